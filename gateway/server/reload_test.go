package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
)

func TestRestartOnlySettingsArePinnedAndReported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(c *config.Config)
		want []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"a live setting", func(c *config.Config) { c.Listen.ShutdownGrace = time.Minute; c.Routes = nil }, nil},
		{"the proxy address", func(c *config.Config) { c.Listen.Proxy = ":9" }, []string{"listen.proxy"}},
		{"admin and max_connections", func(c *config.Config) { c.Listen.Admin = ":10"; c.Listen.MaxConnections = 7 }, []string{"listen.admin", "listen.max_connections"}},
		{"TLS turned on", func(c *config.Config) { c.Listen.TLSCertFile, c.Listen.TLSKeyFile = "c.pem", "k.pem" }, []string{"listen.tls_cert_file (TLS on or off)"}},
		{"the log level", func(c *config.Config) { c.Log.Level = "debug" }, []string{"log.level"}},
		{"the body budget", func(c *config.Config) { c.Limits.MaxBufferedBytes *= 2 }, []string{"limits.max_buffered_bytes"}},
		{"the tracing section", func(c *config.Config) { c.Tracing.Headers = map[string]string{"X-Key": "k"} }, []string{"tracing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			boot := &config.Config{Listen: config.Listen{Proxy: ":8080", Admin: ":8081", MaxConnections: 10}, Log: config.Log{Level: "info"}, Limits: config.Limits{MaxBufferedBytes: 1 << 20}}
			next := *boot
			tc.edit(&next)
			got := pinRestart(boot, &next)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("needs restart = %v, want %v", got, tc.want)
			}
			if next.Listen.Proxy != boot.Listen.Proxy || next.Listen.Admin != boot.Listen.Admin || next.Listen.MaxConnections != boot.Listen.MaxConnections ||
				next.Listen.TLSCertFile != boot.Listen.TLSCertFile || next.Log != boot.Log || next.Limits.MaxBufferedBytes != boot.Limits.MaxBufferedBytes ||
				!reflect.DeepEqual(next.Tracing, boot.Tracing) {
				t.Fatalf("a restart-only setting was not pinned: %+v", next)
			}
		})
	}
}

// reloadServer is a server on a configuration file in dir whose policy
// denies unless the bundle's revision is allowed, and stamps the revision
// into the response.
type reloadServer struct {
	t   *testing.T
	dir string
	srv *Server
}

func (rs *reloadServer) write(name, content string) {
	rs.t.Helper()
	p := filepath.Join(rs.dir, name)
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		rs.t.Fatal(err)
	}
}

// bundle writes a bundle with revision rev that allows when allow is true.
func (rs *reloadServer) bundle(rev string, allow bool, data string) {
	rs.write("bundle/authz.rego", fmt.Sprintf("package portcullis.authz\n\ndecision := {\"allow\": %v, \"response_headers\": {\"X-Revision\": %q}}\n", allow, rev))
	rs.write("bundle/.manifest", fmt.Sprintf(`{"revision": %q, "roots": ["portcullis"]}`, rev))
	rs.write("bundle/data.json", data)
}

func (rs *reloadServer) config(upstream string) {
	rs.write("portcullis.yaml", fmt.Sprintf(`
listen: {proxy: "127.0.0.1:0", admin: "127.0.0.1:0"}
policy:
  bundles: [{name: main, path: bundle}]
  watch: false
decision_log: {stdout: false}
routes:
  - name: r
    match: {path_prefix: /}
    upstream: %s
    authn: {anonymous: true}
    policy: {input_body: true}
`, upstream))
}

func newReloadServer(t *testing.T, upstream string) *reloadServer {
	rs := &reloadServer{t: t, dir: t.TempDir()}
	rs.bundle("g1", true, `{}`)
	rs.config(upstream)
	cfg, err := config.Load(filepath.Join(rs.dir, "portcullis.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if rs.srv, err = New(context.Background(), cfg, Options{Logger: zerolog.Nop(), Version: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.srv.stopReloads(context.Background()) })
	return rs
}

func echoUpstream(t *testing.T, name string) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Upstream", name)
	}))
	t.Cleanup(up.Close)
	return up
}

func TestARequestFinishesOnTheGenerationItStartedOn(t *testing.T) { // not parallel: New enables uuid's pool, racily
	u1, u2 := echoUpstream(t, "u1"), echoUpstream(t, "u2")
	rs := newReloadServer(t, u1.URL)
	entered := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/slow" {
			r.Body = &signalReader{r.Body, entered, false}
		}
		rs.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	pr, pw := io.Pipe()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", front.URL+"/slow", pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		done <- result{resp, err}
	}()
	if _, err := pw.Write([]byte(`{"a":`)); err != nil {
		t.Fatal(err)
	}
	// The body stage reads: the request is inside the pipeline, past
	// routing and authentication, before authorization and the proxy.
	<-entered
	// Generation 2 denies and routes elsewhere.
	rs.bundle("g2", false, `{}`)
	rs.config(u2.URL)
	if err := rs.srv.Reload(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	if n := rs.srv.gen.Load().Number; n != 2 {
		t.Fatalf("generation %d after the reload", n)
	}
	_, _ = pw.Write([]byte(`1}`))
	_ = pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	b, _ := io.ReadAll(r.resp.Body)
	r.resp.Body.Close()
	if r.resp.StatusCode != 200 || r.resp.Header.Get("X-Upstream") != "u1" || r.resp.Header.Get("X-Revision") != "g1" {
		t.Fatalf("status %d, upstream %q, revision %q: want 200 from u1 under g1 (%s)", r.resp.StatusCode, r.resp.Header.Get("X-Upstream"), r.resp.Header.Get("X-Revision"), b)
	}
	// A new request is served by generation 2 only.
	resp, err := http.Post(front.URL+"/x", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.Header.Get("X-Upstream") != "" {
		t.Fatalf("after the swap: %d from %q, want g2's deny", resp.StatusCode, resp.Header.Get("X-Upstream"))
	}
}

// signalReader closes entered at its first Read.
type signalReader struct {
	io.ReadCloser
	entered chan struct{}
	done    bool
}

func (s *signalReader) Read(p []byte) (int, error) {
	if !s.done {
		s.done = true
		close(s.entered)
	}
	return s.ReadCloser.Read(p)
}

func TestAFailedReloadChangesNothingAndIsReported(t *testing.T) { // not parallel: New enables uuid's pool, racily
	u1 := echoUpstream(t, "u1")
	rs := newReloadServer(t, u1.URL)
	before := rs.srv.gen.Load()
	rs.bundle("bad", true, `{"portcullis": {"consumers": {"p": {"keys": [{"id": "k", "hash": "sha256:85cc8eca2ddeb19e9e63936618f5f3a126bcdc0de7f530086f3c319d4648323b", "expires": "2030-01-01T00:00:00Z"}]}}}}`)
	err := rs.srv.Reload(context.Background(), "test")
	if err == nil || !strings.Contains(err.Error(), "expires") {
		t.Fatalf("Reload = %v, want the consumer-data error", err)
	}
	if rs.srv.gen.Load() != before {
		t.Fatal("a failed build replaced the generation")
	}
	admin := rs.srv.AdminHandler()
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 200 {
		t.Fatalf("/readyz = %d after a failed reload", w.Code)
	}
	w = httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest("GET", "/v1/status", nil))
	var body struct {
		Status reloadStatus `json:"status"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if st := body.Status; st.Generation != 1 || !strings.Contains(st.LastError, "expires") || st.LastErrorAt == nil || st.Failures != 1 {
		t.Fatalf("status = %+v", st)
	}
	if n := counterValue(t, rs.srv, "portcullis_config_reload_total", map[string]string{"result": "failure"}); n != 1 {
		t.Fatalf("failures counted %v", n)
	}
	// A good build afterwards clears the error.
	rs.bundle("good", true, `{}`)
	if err := rs.srv.Reload(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	if st := rs.srv.status(); st.Generation != 2 || st.LastError != "" || st.Successes != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func TestProfilesAreServedOnlyWhenTurnedOn(t *testing.T) { // not parallel: New enables uuid's pool, racily
	rs := newReloadServer(t, echoUpstream(t, "u1").URL)
	admin := rs.srv.AdminHandler()
	get := func(path string) int {
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code
	}
	if c := get("/debug/pprof/heap"); c != http.StatusNotFound {
		t.Fatalf("/debug/pprof/heap = %d with listen.pprof off, want 404", c)
	}
	// It reloads live: a heap profile of a running gateway needs no restart.
	cfg, _ := os.ReadFile(filepath.Join(rs.dir, "portcullis.yaml"))
	rs.write("portcullis.yaml", strings.Replace(string(cfg), `admin: "127.0.0.1:0"}`, `admin: "127.0.0.1:0", pprof: true}`, 1))
	if err := rs.srv.Reload(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if c := get(p); c != http.StatusOK {
			t.Errorf("%s = %d with listen.pprof on, want 200", p, c)
		}
	}
}
