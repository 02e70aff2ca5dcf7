package tests

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// genPair is what one generation stamps into every response: the route
// tags of its configuration (X-Config) and the revision in its bundle
// data (X-Revision).
type genPair struct {
	config, bundle string
	extra          bool // the /extra route exists
}

// genState is the configuration and bundle the test writes next.
type genState struct {
	cfgRev, bundleRev int
	extra             bool
	audience          string
	maxBody           string
	validation        string
}

const genPolicy = `package portcullis.authz

decision := {"allow": true, "response_headers": {
	"X-Revision": data.portcullis.rev,
	"X-Config": concat(",", input.route.tags),
}}
`

const genConsumers = `{"partner": {"keys": [{"id": "k1", "hash": "sha256:85cc8eca2ddeb19e9e63936618f5f3a126bcdc0de7f530086f3c319d4648323b", "expires_at": "2099-01-01T00:00:00Z"}]}}`

func (s genState) config(upstream string) string {
	extra := ""
	if s.extra {
		extra = fmt.Sprintf(`
  - name: extra
    match: {path_prefix: /extra}
    upstream: %s
    tags: [c%d]
    authn: {anonymous: true}
`, upstream, s.cfgRev)
	}
	return fmt.Sprintf(`authn:
  jwt:
    issuers:
      - {issuer: "https://issuer.test", keys: [jwks.json], algorithms: [ES256], audiences: [%s]}
policy:
  bundles: [{name: main, path: bundle}]
  debounce: 20ms
decision_log: {stdout: false}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    tags: [c%d]
    authn: {methods: [jwt, api_key], anonymous: true}
    limits: {max_body_bytes: %s}
    openapi: {spec: users.yaml, mode: %s}
%s`, s.audience, upstream, s.cfgRev, s.maxBody, s.validation, extra)
}

func (s genState) data() string {
	return fmt.Sprintf(`{"portcullis": {"rev": "b%d", "consumers": %s}}`, s.bundleRev, genConsumers)
}

func (s genState) pair() genPair {
	return genPair{config: fmt.Sprintf("c%d", s.cfgRev), bundle: fmt.Sprintf("b%d", s.bundleRev), extra: s.extra}
}

// genWrite replaces a file atomically, as editors and kubectl do.
func genWrite(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+filepath.Base(name)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// genStatus is the reload part of GET /v1/status.
type genStatus struct {
	Generation uint64 `json:"generation"`
	Failures   int64  `json:"reload_failures"`
	LastError  string `json:"last_error"`
}

func genGetStatus(t *testing.T, g *gateway) genStatus {
	t.Helper()
	var st genStatus
	g.status(t, &st)
	return st
}

// TestLiveChangesUnderLoad makes 100 live changes to portcullis.yaml and
// the bundle, some broken, while 8 clients send requests: no request
// fails, each response carries the stamps of a generation live while it
// was in flight, broken changes never take effect and are reported, and
// readiness never drops.
func TestLiveChangesUnderLoad(t *testing.T) {
	up := newUpstream(t, "up")
	spec, err := os.ReadFile("../schemas/users.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := genState{cfgRev: 1, bundleRev: 1, audience: "a0", maxBody: "1MiB", validation: "report"}
	g := startGateway(t, gatewayConfig{
		Body: st.config(up.URL),
		Files: map[string]string{
			"bundle/.manifest":  `{"roots": ["portcullis"]}`,
			"bundle/authz.rego": genPolicy,
			"bundle/data.json":  st.data(),
			"users.yaml":        string(spec),
			"jwks.json":         `{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		},
	})
	listen := fmt.Sprintf("listen:\n  proxy: %q\n  admin: %q\n  shutdown_grace: 10s\n  drain_delay: 10ms\n",
		strings.TrimPrefix(g.proxy, "http://"), strings.TrimPrefix(g.admin, "http://"))

	// seq are the generations made live, in order; committed is the
	// index known live (a probe saw it), submitted the last one written.
	var mu sync.Mutex
	seq := []genPair{st.pair()}
	var committed, submitted atomic.Int64
	window := func(lo, hi int64) []genPair {
		mu.Lock()
		defer mu.Unlock()
		return append([]genPair(nil), seq[lo:hi+1]...)
	}

	var failures, requests atomic.Int64
	var failMu sync.Mutex
	var failed []string
	fail := func(format string, a ...any) {
		failures.Add(1)
		failMu.Lock()
		if len(failed) < 10 {
			failed = append(failed, fmt.Sprintf(format, a...))
		}
		failMu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/api/v1/users"
				if c%4 == 0 && i%2 == 0 {
					path = "/extra/x"
				}
				lo := committed.Load()
				resp, err := client.Get(g.proxy + path)
				hi := submitted.Load()
				requests.Add(1)
				if err != nil {
					fail("%s: %v", path, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got := genPair{config: resp.Header.Get("X-Config"), bundle: resp.Header.Get("X-Revision")}
				ok := false
				for _, p := range window(lo, hi) {
					switch {
					case resp.StatusCode == http.StatusOK && p.config == got.config && p.bundle == got.bundle:
						ok = path == "/api/v1/users" || p.extra
					case resp.StatusCode == http.StatusNotFound && path == "/extra/x":
						ok = !p.extra
					}
					if ok {
						break
					}
				}
				if !ok {
					fail("%s: %d %+v, not one of the generations %+v", path, resp.StatusCode, got, window(lo, hi))
				}
			}
		})
	}
	var unready atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(g.admin + "/readyz")
			if err != nil || resp.StatusCode != http.StatusOK {
				unready.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	// probe waits until a request sees want.
	probe := func(want genPair) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := http.Get(g.proxy + "/api/v1/users")
			if err == nil {
				resp.Body.Close()
				if resp.Header.Get("X-Config") == want.config && resp.Header.Get("X-Revision") == want.bundle {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("generation %+v not live within 10s:\n%s", want, g.stderr.String())
	}
	apply := func(write func()) {
		t.Helper()
		mu.Lock()
		seq = append(seq, st.pair())
		n := int64(len(seq) - 1)
		mu.Unlock()
		submitted.Store(n)
		write()
		probe(st.pair())
		committed.Store(n)
	}
	broken := func(write func(), want string) {
		t.Helper()
		before := genGetStatus(t, g).Failures
		write()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := genGetStatus(t, g)
			if s.Failures > before {
				if !strings.Contains(s.LastError, want) {
					t.Errorf("last_error %q does not mention %q", s.LastError, want)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broken change (%s) not reported within 10s", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	writeConfig := func() { genWrite(t, g.dir, "portcullis.yaml", listen+st.config(up.URL)) }
	writeData := func() { genWrite(t, g.dir, "bundle/data.json", st.data()) }

	failuresWanted := 0
	for i := range 100 {
		switch i % 10 {
		case 0, 5:
			st.bundleRev++
			apply(writeData)
		case 1:
			st.cfgRev++
			st.extra = !st.extra
			apply(writeConfig)
		case 2:
			st.cfgRev++
			st.audience = fmt.Sprintf("a%d", i)
			apply(writeConfig)
		case 3:
			st.cfgRev++
			st.maxBody = map[string]string{"1MiB": "2MiB", "2MiB": "1MiB"}[st.maxBody]
			apply(writeConfig)
		case 4:
			st.cfgRev++
			st.validation = map[string]string{"report": "off", "off": "report"}[st.validation]
			apply(writeConfig)
		case 6: // the fault-injection bundle: a misspelt expires_at
			failuresWanted++
			broken(func() {
				// With its own revision: were it activated, responses would show it.
				bad := strings.Replace(strings.Replace(st.data(), `"expires_at"`, `"expires"`, 1), fmt.Sprintf(`"b%d"`, st.bundleRev), `"broken"`, 1)
				genWrite(t, g.dir, "bundle/data.json", bad)
			}, "expires")
		case 7: // a good bundle again
			st.bundleRev++
			apply(writeData)
		case 8:
			failuresWanted++
			if i%20 == 8 {
				broken(func() {
					genWrite(t, g.dir, "portcullis.yaml", listen+st.config(up.URL)+"  - name: bad\n    upstrem: http://x\n")
				}, "upstrem")
			} else {
				broken(func() { genWrite(t, g.dir, "bundle/authz.rego", genPolicy+"\nbroken if {{\n") }, "authz.rego:")
				// Repair the policy; the data's revision marks the new generation.
				st.bundleRev++
				apply(func() { genWrite(t, g.dir, "bundle/authz.rego", genPolicy); writeData() })
			}
		case 9:
			st.cfgRev++
			apply(writeConfig)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests during 100 changes", requests.Load())
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed or were misrouted, e.g.:\n%s", n, requests.Load(), strings.Join(failed, "\n"))
	}
	if n := unready.Load(); n > 0 {
		t.Errorf("/readyz failed %d times", n)
	}
	if v := policyMetric(t, g, `portcullis_config_reload_total{result="failure"}`); v < float64(failuresWanted) {
		t.Errorf("failed reloads counted %v, want at least %d", v, failuresWanted)
	}
	if requests.Load() < 1000 {
		t.Errorf("only %d requests: the load did not overlap the changes", requests.Load())
	}
}

// TestRollingSIGTERMBehindALoadBalancerLosesNoRequest stops one of two
// gateways under load behind a balancer that health-checks /readyz and
// retries only refused connections, as a Kubernetes Service with a
// readiness probe would: the drain delay lets the balancer notice first.
func TestRollingSIGTERMBehindALoadBalancerLosesNoRequest(t *testing.T) {
	up := newUpstream(t, "up")
	gc := gatewayConfig{
		Listen: "  drain_delay: 300ms\n",
		Body:   fmt.Sprintf("policy:\n  bundles: [{name: main, path: bundle}]\ndecision_log: {stdout: false}\nroutes:\n  - name: r\n    match: {path_prefix: /}\n    upstream: %s\n    authn: {anonymous: true}\n", up.URL),
		Files:  allowAllBundle,
	}
	gws := []*gateway{startGateway(t, gc), startGateway(t, gc)}
	lb := newBalancer(t, gws)
	defer lb.close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, bad atomic.Int64
	var lastErr atomic.Value
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// POST is not replayable: a request lost on a closing
				// connection is not retried by the transport either.
				resp, err := http.Post(lb.url+"/x", "", nil)
				if err != nil {
					bad.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad.Add(1)
					lastErr.Store(resp.Status)
					continue
				}
				ok.Add(1)
			}
		})
	}
	for ok.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	gws[0].signal(syscall.SIGTERM)
	<-gws[0].done
	before := ok.Load()
	for ok.Load() < before+200 {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d requests failed during the rolling stop (last: %v); %d succeeded", n, lastErr.Load(), ok.Load())
	}
	if lb.refusedRetries.Load() == 0 && lb.sawUnready.Load() == 0 {
		t.Error("the balancer never saw the stopping gateway unready or refusing: the test proved nothing")
	}
}

// balancer is a tiny load balancer: round robin over the backends whose
// /readyz answered 200 at the last check, retrying on the next backend
// only when a connection is refused (a request that reached a gateway is
// never sent twice).
type balancer struct {
	url            string
	srv            *http.Server
	backends       []*url.URL
	admins         []string
	healthy        []atomic.Bool
	next           atomic.Uint64
	refusedRetries atomic.Int64
	sawUnready     atomic.Int64
	stop           chan struct{}
	wg             sync.WaitGroup
}

func newBalancer(t *testing.T, gws []*gateway) *balancer {
	t.Helper()
	b := &balancer{healthy: make([]atomic.Bool, len(gws)), stop: make(chan struct{})}
	for i, g := range gws {
		u, _ := url.Parse(g.proxy)
		b.backends = append(b.backends, u)
		b.admins = append(b.admins, g.admin)
		b.healthy[i].Store(true)
	}
	for i := range gws {
		b.wg.Go(func() { b.check(i) })
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			var err error
			for range 2 * len(b.backends) {
				i := b.pick()
				r.URL.Scheme, r.URL.Host = b.backends[i].Scheme, b.backends[i].Host
				var resp *http.Response
				if resp, err = transport.RoundTrip(r); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
					return resp, err
				}
				b.refusedRetries.Add(1)
			}
			return nil, err
		}),
	}
	addr := freeAddr(t)
	b.url = "http://" + addr
	b.srv = &http.Server{Addr: addr, Handler: rp}
	go func() { _ = b.srv.ListenAndServe() }()
	for {
		if resp, err := http.Get(b.url + "/"); err == nil {
			resp.Body.Close()
			return b
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *balancer) pick() int {
	n := uint64(len(b.backends))
	start := b.next.Add(1)
	for k := range n {
		if i := (start + k) % n; b.healthy[i].Load() {
			return int(i)
		}
	}
	return int(start % n) // none healthy: try anyway, refusals are retried
}

func (b *balancer) check(i int) {
	c := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-b.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := c.Get(b.admins[i] + "/readyz")
		up := err == nil && resp.StatusCode == http.StatusOK
		if resp != nil {
			resp.Body.Close()
		}
		if !up && b.healthy[i].Load() {
			b.sawUnready.Add(1)
		}
		b.healthy[i].Store(up)
	}
}

func (b *balancer) close() {
	close(b.stop)
	b.wg.Wait()
	_ = b.srv.Close()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConfigMapSwapOfPortcullisYAMLBuildsANewGeneration mounts the
// configuration as Kubernetes does (portcullis.yaml → ..data/portcullis.yaml,
// ..data → a timestamped directory) and swaps ..data atomically.
func TestConfigMapSwapOfPortcullisYAMLBuildsANewGeneration(t *testing.T) {
	up := newUpstream(t, "up")
	route := func(prefix string) string {
		return fmt.Sprintf("policy:\n  bundles: [{name: main, path: bundle}]\n  debounce: 20ms\ndecision_log: {stdout: false}\nroutes:\n  - name: r\n    match: {path_prefix: %s}\n    upstream: %s\n    authn: {anonymous: true}\n", prefix, up.URL)
	}
	// mount moves dir/portcullis.yaml into version v and points ..data at it.
	mount := func(t *testing.T, dir, v, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, v, "portcullis.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(v, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	var first string
	g := startGateway(t, gatewayConfig{Body: route("/one"), Files: allowAllBundle, PreStart: func(dir string) {
		p := filepath.Join(dir, "portcullis.yaml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		first = string(b)
		mount(t, dir, "..2026_01", first)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", "portcullis.yaml"), p); err != nil {
			t.Fatal(err)
		}
	}})
	if resp := g.do("GET", "/one/x", nil, nil); readAll(t, resp) == "" || resp.StatusCode != 200 {
		t.Fatalf("/one: %d", resp.StatusCode)
	}
	mount(t, g.dir, "..2026_02", strings.Replace(first, "/one", "/two", 1))
	deadline := time.Now().Add(10 * time.Second)
	for genGetStatus(t, g).Generation < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the swapped ConfigMap was not loaded within 10s:\n%s", g.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp := g.do("GET", "/two/x", nil, nil); readAll(t, resp) == "" || resp.StatusCode != 200 {
		t.Fatalf("/two after the swap: %d", resp.StatusCode)
	}
	if resp := g.do("GET", "/one/x", nil, nil); readAll(t, resp) == "" || resp.StatusCode != 404 {
		t.Fatalf("/one after the swap: %d, want 404", resp.StatusCode)
	}
}
