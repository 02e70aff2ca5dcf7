package tests

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// Tests of issue 4 (authorization): hot reload, broken and signed bundles,
// tarballs, SIGHUP, the decision contract and the input document through
// HTTP, and the policy authors' tools (eval, test), against the binary.
//
// Every configuration raises policy.timeout from 50ms to 2s: on a loaded
// test machine a trivial evaluation can be descheduled for longer, and
// these tests are about what is decided, not how fast.

// policyRego returns a bundle module of package portcullis.authz.
func policyRego(body string) string {
	return "package portcullis.authz\n\n" + body + "\n"
}

// policyVersion is a module that allows every request and tells the client
// which version decided in the X-Policy response header.
func policyVersion(v string) string {
	return policyRego(fmt.Sprintf(`decision := {"allow": true, "response_headers": {"X-Policy": %q}}`, v))
}

// policyDenyVersion denies every request with 403 and names its version.
func policyDenyVersion(v string) string {
	return policyRego(fmt.Sprintf(`decision := {"allow": false, "status": 403, "reasons": [%q], "response_headers": {"X-Policy": %q}}`, v, v))
}

// policyManifest is a .manifest with a revision and roots.
func policyManifest(revision string, roots ...string) string {
	b, _ := json.Marshal(map[string]any{"revision": revision, "roots": roots})
	return string(b)
}

// policyAnonymousRoutes routes /api to api and /pub to pub, both anonymous.
func policyAnonymousRoutes(api, pub *upstream) string {
	return fmt.Sprintf(`
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
  - name: pub
    match: {path_prefix: /pub}
    upstream: %s
    authn: {anonymous: true}
`, api.URL, pub.URL)
}

// policyReplace writes content next to the gateway's files, in a staging
// directory, then renames it over name, as editors and kubectl do.
func policyReplace(t *testing.T, g *gateway, name, content string) {
	t.Helper()
	staging := filepath.Join(g.dir, ".staging")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.CreateTemp(staging, "drop-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(g.dir, name)); err != nil {
		t.Fatal(err)
	}
}

// policyStatus is the policy part of the admin GET /v1/status.
type policyStatus struct {
	Bundles []struct {
		Name     string `json:"name"`
		Revision string `json:"revision"`
	} `json:"bundles"`
	LoadedAt      time.Time `json:"loaded_at"`
	DecisionCache string    `json:"decision_cache"`
	// LastError and Reloads are the generation's (a bundle change builds one).
	LastError string `json:"-"`
	Reloads   int64  `json:"-"`
}

// revision returns the revision of the named active bundle, or "".
func (s policyStatus) revision(name string) string {
	for _, b := range s.Bundles {
		if b.Name == name {
			return b.Revision
		}
	}
	return ""
}

func policyGetStatus(t *testing.T, g *gateway) policyStatus {
	t.Helper()
	var st struct {
		Policy    policyStatus `json:"policy"`
		LastError string       `json:"last_error"`
		Reloads   int64        `json:"reloads"`
	}
	g.status(t, &st)
	p := st.Policy
	p.LastError, p.Reloads = st.LastError, st.Reloads
	return p
}

// policyMetric returns the value of the sample named exactly series (name
// and labels as /metrics prints them), or -1 when it is absent.
func policyMetric(t *testing.T, g *gateway, series string) float64 {
	t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

const policyReloadErrors = `portcullis_config_reload_total{result="failure"}`

// policyEventually polls cond every 20ms until it holds or timeout passes.
func policyEventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// policyHeader sends GET path and returns the status and the X-Policy
// response header.
func policyHeader(t *testing.T, g *gateway, path string) (int, string) {
	t.Helper()
	resp := g.do("GET", path, nil, nil)
	readAll(t, resp)
	return resp.StatusCode, resp.Header.Get("X-Policy")
}

// policyWaitDecision polls until GET path is answered with status and
// X-Policy: version.
func policyWaitDecision(t *testing.T, g *gateway, timeout time.Duration, path string, status int, version string) {
	t.Helper()
	policyEventually(t, timeout, fmt.Sprintf("GET %s = %d by %s", path, status, version), func() bool {
		s, v := policyHeader(t, g, path)
		return s == status && v == version
	})
}

// policyTarGz builds a gzip-compressed tar in OPA's layout (entry names
// start with "/", as `opa build` writes them).
func policyTarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		hdr := &tar.Header{Name: "/" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// policySignedFiles builds a bundle (manifest, data.json, authz.rego)
// signed with key by OPA's signing code, and returns its files as `opa
// build --signing-key` would lay them out, .signatures.json included.
func policySignedFiles(t *testing.T, key *rsa.PrivateKey, revision, module string) map[string]string {
	t.Helper()
	roots := []string{"portcullis"}
	b := opabundle.Bundle{
		Manifest: opabundle.Manifest{Revision: revision, Roots: &roots},
		Data:     map[string]any{"portcullis": map[string]any{"revision": revision}},
		Modules: []opabundle.ModuleFile{{
			URL: "/authz.rego", Path: "/authz.rego", Raw: []byte(module),
			Parsed: ast.MustParseModuleWithOpts(module, ast.ParserOptions{RegoVersion: ast.RegoV1}),
		}},
	}
	priv := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	if err := b.GenerateSignature(opabundle.NewSigningConfig(priv, "RS256", ""), "default", false); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := opabundle.NewWriter(&buf).DisableFormat(true).Write(b); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(path.Clean(hdr.Name), "/")] = string(content)
	}
	if files[".signatures.json"] == "" || files["authz.rego"] != module {
		t.Fatalf("signed bundle files: %v", files)
	}
	return files
}

// policyUnder prefixes every file name with dir.
func policyUnder(dir string, files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for name, content := range files {
		out[dir+"/"+name] = content
	}
	return out
}

func TestPolicyHotReloadUnderLoad(t *testing.T) {
	t.Parallel()
	api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
	g := startGateway(t, gatewayConfig{
		Body: "policy:\n  timeout: 2s\n  bundles: [{name: main, path: bundle}]\n  debounce: 50ms\n" + policyAnonymousRoutes(api, pub),
		Files: map[string]string{
			"bundle/.manifest":  policyManifest("v1", "portcullis"),
			"bundle/authz.rego": policyVersion("v1"),
		},
	})

	const clients = 8
	type tally struct {
		v1API, v1Pub, v2 int
		failures         []string
	}
	tallies := make([]tally, clients)
	var (
		sawV2   [clients]atomic.Bool
		started [clients]atomic.Int64 // requests answered
		afterV2 [clients]atomic.Int64 // requests answered by v2
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl := &tallies[c]
			fail := func(format string, args ...any) {
				if len(tl.failures) < 5 {
					tl.failures = append(tl.failures, fmt.Sprintf(format, args...))
				}
			}
			for n := 0; !stop.Load() && afterV2[c].Load() < 20; n++ {
				prefix, up := "/api", "api"
				if n%2 == 1 {
					prefix, up = "/pub", "pub"
				}
				p := fmt.Sprintf("%s/c%d/r%d", prefix, c, n)
				resp, err := client.Get(g.proxy + p)
				if err != nil {
					fail("GET %s: %v", p, err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					fail("GET %s: reading the body: %v", p, err)
					continue
				}
				started[c].Add(1)
				switch version := resp.Header.Get("X-Policy"); {
				case version == "v1" && resp.StatusCode == 200:
					if want := up + " GET " + p; string(body) != want {
						fail("GET %s: misrouted: got %q, want %q", p, body, want)
					}
					if sawV2[c].Load() {
						fail("GET %s: decided by v1 after this client saw v2", p)
					}
					if up == "api" {
						tl.v1API++
					} else {
						tl.v1Pub++
					}
				case version == "v2" && resp.StatusCode == 403:
					if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
						fail("GET %s: v2 deny with Content-Type %q", p, ct)
					}
					sawV2[c].Store(true)
					tl.v2++
					afterV2[c].Add(1)
				default:
					fail("GET %s: unexpected %d X-Policy=%q: %s", p, resp.StatusCode, version, body)
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()

	policyEventually(t, 20*time.Second, "every client sent 20 requests on v1", func() bool {
		for c := range clients {
			if started[c].Load() < 20 {
				return false
			}
		}
		return true
	})
	policyReplace(t, g, "bundle/authz.rego", policyDenyVersion("v2"))
	policyReplace(t, g, "bundle/.manifest", policyManifest("v2", "portcullis"))
	policyEventually(t, 2*time.Second, "every client sees the v2 decision", func() bool {
		for c := range clients {
			if !sawV2[c].Load() {
				return false
			}
		}
		return true
	})
	policyEventually(t, 5*time.Second, "/v1/status reports revision v2", func() bool {
		return policyGetStatus(t, g).revision("main") == "v2"
	})
	policyEventually(t, 10*time.Second, "every client sent 20 requests on v2", func() bool {
		for c := range clients {
			if afterV2[c].Load() < 20 {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()

	var v1API, v1Pub, v2 int
	for c, tl := range tallies {
		for _, f := range tl.failures {
			t.Errorf("client %d: %s", c, f)
		}
		v1API, v1Pub, v2 = v1API+tl.v1API, v1Pub+tl.v1Pub, v2+tl.v2
	}
	// A denied request never reaches an upstream; every allowed one reached
	// exactly its own.
	if got := len(api.requests()); got != v1API {
		t.Errorf("api upstream got %d requests, clients saw %d allowed", got, v1API)
	}
	if got := len(pub.requests()); got != v1Pub {
		t.Errorf("pub upstream got %d requests, clients saw %d allowed", got, v1Pub)
	}
	if v2 < clients*20 {
		t.Errorf("only %d requests decided by v2", v2)
	}
	t.Logf("%d allowed by v1, %d denied by v2", v1API+v1Pub, v2)
}

// policyDataVersion allows every request and names the version found in
// data.portcullis.more.deeper (bundle/portcullis/more/deeper/data.json),
// or v1.
const policyDataVersion = `package portcullis.authz

default version := "v1"

version := data.portcullis.more.deeper.version

decision := {"allow": true, "response_headers": {"X-Policy": version}}
`

// policyConfigMap lays out files as Kubernetes mounts a ConfigMap: the
// files live in a timestamped directory, "..data" links to it, and each
// file name is a link through "..data".
func policyConfigMap(t *testing.T, dir, stamp string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, stamp), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, stamp, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The atomic writer's swap: a new link renamed over "..data".
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(stamp, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPolicyReloadDeliveries(t *testing.T) {
	t.Parallel()
	bundleBody := "policy:\n  timeout: 2s\n  bundles: [{name: main, path: bundle}]\n  debounce: 50ms\n"

	t.Run("data.json in directories created after start is loaded", func(t *testing.T) {
		t.Parallel()
		api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
		g := startGateway(t, gatewayConfig{
			Body: bundleBody + policyAnonymousRoutes(api, pub),
			Files: map[string]string{
				"bundle/.manifest":  policyManifest("v1", "portcullis"),
				"bundle/authz.rego": policyDataVersion,
			},
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "v1" {
			t.Fatalf("at start: %d X-Policy=%q", status, v)
		}
		// Nested directories created at once: the watcher must add each.
		if err := os.MkdirAll(filepath.Join(g.dir, "bundle/portcullis/more/deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		policyReplace(t, g, "bundle/portcullis/more/deeper/data.json", `{"version": "v2"}`)
		policyWaitDecision(t, g, 10*time.Second, "/api/x", 200, "v2")
	})

	t.Run("a Kubernetes ConfigMap symlink swap is seen", func(t *testing.T) {
		t.Parallel()
		api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
		g := startGateway(t, gatewayConfig{
			Body: bundleBody + policyAnonymousRoutes(api, pub),
			PreStart: func(dir string) {
				policyConfigMap(t, filepath.Join(dir, "bundle"), "..2026_04_01", map[string]string{
					".manifest":  policyManifest("cm-1", "portcullis"),
					"authz.rego": policyVersion("cm-1"),
				})
			},
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "cm-1" {
			t.Fatalf("at start: %d X-Policy=%q", status, v)
		}
		policyConfigMap(t, filepath.Join(g.dir, "bundle"), "..2026_04_02", map[string]string{
			".manifest":  policyManifest("cm-2", "portcullis"),
			"authz.rego": policyDenyVersion("cm-2"),
		})
		policyWaitDecision(t, g, 10*time.Second, "/api/x", 403, "cm-2")
		if s := policyGetStatus(t, g); s.revision("main") != "cm-2" || s.LastError != "" {
			t.Fatalf("status after the swap: %+v", s)
		}
	})

	t.Run("with require_tests a bundle whose tests fail is refused", func(t *testing.T) {
		t.Parallel()
		api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
		testRego := func(want string) string {
			return "package portcullis.authz_test\n\nimport data.portcullis.authz\n\n" +
				fmt.Sprintf("test_version if authz.decision.response_headers[\"X-Policy\"] == %q\n", want)
		}
		g := startGateway(t, gatewayConfig{
			Body: bundleBody + "  require_tests: true\n" + policyAnonymousRoutes(api, pub),
			Files: map[string]string{
				"bundle/.manifest":       policyManifest("v1", "portcullis"),
				"bundle/authz.rego":      policyVersion("v1"),
				"bundle/authz_test.rego": testRego("v1"),
			},
		})
		// The tests still expect v1: v2 is refused.
		policyReplace(t, g, "bundle/authz.rego", policyVersion("v2"))
		policyEventually(t, 10*time.Second, "/v1/status reports the failing test", func() bool {
			return strings.Contains(policyGetStatus(t, g).LastError, "tests failed")
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "v1" {
			t.Fatalf("after a failing test: %d X-Policy=%q, want v1", status, v)
		}
		// Updating the test with the policy activates it.
		policyReplace(t, g, "bundle/authz_test.rego", testRego("v2"))
		policyWaitDecision(t, g, 10*time.Second, "/api/x", 200, "v2")
	})
}

func TestPolicyBrokenBundleKeepsRunningPolicy(t *testing.T) {
	t.Parallel()
	api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
	g := startGateway(t, gatewayConfig{
		Body: `
policy:
  timeout: 2s
  bundles:
    - {name: main, path: bundle}
    - {name: extra, path: extra}
  debounce: 50ms
` + policyAnonymousRoutes(api, pub),
		Files: map[string]string{
			"bundle/.manifest":  policyManifest("v1", "portcullis"),
			"bundle/authz.rego": policyVersion("v1"),
			"extra/.manifest":   policyManifest("extra-1", "extra"),
			"extra/data.json":   `{"extra": {"answer": 42}}`,
		},
	})
	if s := policyGetStatus(t, g); s.revision("main") != "v1" || s.revision("extra") != "extra-1" || s.LastError != "" {
		t.Fatalf("status at start: %+v", s)
	}

	tests := []struct {
		name       string
		file       string // replaced, then restored
		content    string
		restore    string // "" removes the file
		wantErrors []string
	}{
		{"a syntax error", "bundle/broken.rego", policyRego("broken := }\n\nfine := 1"), "",
			[]string{"broken.rego:3: rego_parse_error"}},
		{"an unsafe variable", "bundle/broken.rego", policyRego("broken := x if {\n\ty := 1\n}"), "",
			[]string{"broken.rego:3: rego_unsafe_var_error"}},
		{"a type error", "bundle/broken.rego", policyRego(`broken := 1 + "one"`), "",
			[]string{"broken.rego:3: rego_type_error"}},
		{"a second bundle claiming an overlapping root", "extra/.manifest", policyManifest("extra-2", "extra", "portcullis/authz"),
			policyManifest("extra-1", "extra"), []string{"overlap"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := policyMetric(t, g, policyReloadErrors)
			if before < 0 {
				t.Fatalf("/metrics has no %s", policyReloadErrors)
			}
			policyReplace(t, g, tc.file, tc.content)
			var s policyStatus
			policyEventually(t, 10*time.Second, "/v1/status reports the error", func() bool {
				s = policyGetStatus(t, g)
				for _, want := range tc.wantErrors {
					if !strings.Contains(s.LastError, want) {
						return false
					}
				}
				return true
			})
			if s.revision("main") != "v1" || s.revision("extra") != "extra-1" {
				t.Errorf("active bundles changed: %+v", s.Bundles)
			}
			if after := policyMetric(t, g, policyReloadErrors); after <= before {
				t.Errorf("%s = %v, was %v", policyReloadErrors, after, before)
			}
			if status, v := policyHeader(t, g, "/api/still"); status != 200 || v != "v1" {
				t.Errorf("after the broken drop: %d X-Policy=%q, want 200 v1", status, v)
			}

			reloads := s.Reloads
			if tc.restore == "" {
				if err := os.Remove(filepath.Join(g.dir, tc.file)); err != nil {
					t.Fatal(err)
				}
			} else {
				policyReplace(t, g, tc.file, tc.restore)
			}
			policyEventually(t, 10*time.Second, "the repaired bundle loads", func() bool {
				s = policyGetStatus(t, g)
				return s.Reloads > reloads && s.LastError == ""
			})
		})
	}
}

func TestPolicyTarballBundle(t *testing.T) {
	t.Parallel()
	api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
	v1 := policyTarGz(t, map[string]string{
		".manifest":  policyManifest("tar-1", "portcullis"),
		"authz.rego": policyVersion("tar-1"),
		"data.json":  `{"portcullis": {"note": "from a tarball"}}`,
	})
	g := startGateway(t, gatewayConfig{
		Body:  "policy:\n  timeout: 2s\n  bundles: [{name: packed, path: policy.tar.gz}]\n  debounce: 50ms\n" + policyAnonymousRoutes(api, pub),
		Files: map[string]string{"policy.tar.gz": string(v1)},
	})
	if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "tar-1" {
		t.Fatalf("tar-1: %d X-Policy=%q", status, v)
	}
	if rev := policyGetStatus(t, g).revision("packed"); rev != "tar-1" {
		t.Fatalf("revision %q, want tar-1", rev)
	}

	v2 := policyTarGz(t, map[string]string{
		".manifest":  policyManifest("tar-2", "portcullis"),
		"authz.rego": policyDenyVersion("tar-2"),
	})
	policyReplace(t, g, "policy.tar.gz", string(v2))
	policyWaitDecision(t, g, 10*time.Second, "/api/x", 403, "tar-2")
	if s := policyGetStatus(t, g); s.revision("packed") != "tar-2" || s.LastError != "" {
		t.Fatalf("status after the replacement: %+v", s)
	}

	t.Run("a corrupt archive is refused and the running one kept", func(t *testing.T) {
		policyReplace(t, g, "policy.tar.gz", string(v2[:len(v2)/2]))
		policyEventually(t, 10*time.Second, "/v1/status reports the error", func() bool {
			return policyGetStatus(t, g).LastError != ""
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 403 || v != "tar-2" {
			t.Fatalf("after a corrupt drop: %d X-Policy=%q", status, v)
		}
	})
}

func TestPolicySignedBundles(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	body := func(api, pubUp *upstream) string {
		return `
policy:
  timeout: 2s
  bundles: [{name: signed, path: bundle}]
  debounce: 50ms
  signing: {key_file: signing.pem, key_id: default, algorithm: RS256}
` + policyAnonymousRoutes(api, pubUp)
	}

	t.Run("an unsigned bundle at start is fatal", func(t *testing.T) {
		t.Parallel()
		api, pubUp := newUpstream(t, "api"), newUpstream(t, "pub")
		g := startGateway(t, gatewayConfig{
			Body:   body(api, pubUp),
			Files:  withFiles(map[string]string{"signing.pem": pubPEM}, allowAllBundle),
			NoWait: true,
		})
		select {
		case <-g.done:
		case <-time.After(30 * time.Second):
			t.Fatal("the gateway started with an unsigned bundle")
		}
		if g.cmd.ProcessState.Success() {
			t.Fatalf("exit status 0 with an unsigned bundle:\n%s", g.stderr.String())
		}
		if !strings.Contains(g.stderr.String(), ".signatures.json") {
			t.Fatalf("stderr does not name the missing signature:\n%s", g.stderr.String())
		}
	})

	t.Run("a signed bundle loads, a tampered one is refused, a re-signed one loads", func(t *testing.T) {
		t.Parallel()
		api, pubUp := newUpstream(t, "api"), newUpstream(t, "pub")
		g := startGateway(t, gatewayConfig{
			Body: body(api, pubUp),
			Files: withFiles(map[string]string{"signing.pem": pubPEM},
				policyUnder("bundle", policySignedFiles(t, key, "signed-1", policyVersion("signed-1")))),
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "signed-1" {
			t.Fatalf("signed-1: %d X-Policy=%q", status, v)
		}

		// A file changed after signing.
		before := policyMetric(t, g, policyReloadErrors)
		policyReplace(t, g, "bundle/authz.rego", policyVersion("tampered"))
		policyEventually(t, 10*time.Second, "/v1/status reports the digest mismatch", func() bool {
			return strings.Contains(policyGetStatus(t, g).LastError, "digest mismatch")
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "signed-1" {
			t.Fatalf("after tampering: %d X-Policy=%q, want the signed-1 policy", status, v)
		}
		if after := policyMetric(t, g, policyReloadErrors); after <= before {
			t.Errorf("%s = %v, was %v", policyReloadErrors, after, before)
		}
		if rev := policyGetStatus(t, g).revision("signed"); rev != "signed-1" {
			t.Fatalf("revision %q, want signed-1", rev)
		}

		// A new bundle signed with the key replaces it; the signature goes
		// last, so every intermediate state is refused.
		signed2 := policySignedFiles(t, key, "signed-2", policyDenyVersion("signed-2"))
		for _, name := range []string{"authz.rego", "data.json", ".manifest", ".signatures.json"} {
			policyReplace(t, g, "bundle/"+name, signed2[name])
		}
		policyWaitDecision(t, g, 10*time.Second, "/api/x", 403, "signed-2")
		if s := policyGetStatus(t, g); s.revision("signed") != "signed-2" || s.LastError != "" {
			t.Fatalf("status after re-signing: %+v", s)
		}

		// Removing the signature is refused too.
		if err := os.Remove(filepath.Join(g.dir, "bundle/.signatures.json")); err != nil {
			t.Fatal(err)
		}
		policyEventually(t, 10*time.Second, "/v1/status reports the missing signature", func() bool {
			return strings.Contains(policyGetStatus(t, g).LastError, ".signatures.json")
		})
		if status, v := policyHeader(t, g, "/api/x"); status != 403 || v != "signed-2" {
			t.Fatalf("after removing the signature: %d X-Policy=%q, want the signed-2 policy", status, v)
		}
	})
}

func TestPolicySIGHUPReloads(t *testing.T) {
	t.Parallel()
	api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
	g := startGateway(t, gatewayConfig{
		Body: "policy:\n  timeout: 2s\n  bundles: [{name: main, path: bundle}]\n  watch: false\n  debounce: 50ms\n" + policyAnonymousRoutes(api, pub),
		Files: map[string]string{
			"bundle/.manifest":  policyManifest("v1", "portcullis"),
			"bundle/authz.rego": policyVersion("v1"),
		},
	})
	policyReplace(t, g, "bundle/authz.rego", policyDenyVersion("v2"))
	// Without watching, the change stays unseen: wait several debounce
	// periods to make sure nothing reloads by itself.
	time.Sleep(300 * time.Millisecond)
	if status, v := policyHeader(t, g, "/api/x"); status != 200 || v != "v1" {
		t.Fatalf("reloaded without SIGHUP while watch is off: %d X-Policy=%q", status, v)
	}
	if s := policyGetStatus(t, g); s.Reloads != 0 {
		t.Fatalf("reloads = %d before SIGHUP", s.Reloads)
	}
	g.signal(syscall.SIGHUP)
	policyWaitDecision(t, g, 10*time.Second, "/api/x", 403, "v2")
	if s := policyGetStatus(t, g); s.Reloads != 1 {
		t.Fatalf("reloads = %d after one SIGHUP", s.Reloads)
	}
}

// policyMethodVersion allows GET only and names its version: a policy
// that reads nothing but the method, so one cached decision per method
// answers every path.
func policyMethodVersion(v string) string {
	return policyRego(fmt.Sprintf(`decision := {"allow": input.request.method == "GET", "status": 403, "response_headers": {"X-Policy": %q}}`, v))
}

func TestPolicyDecisionCache(t *testing.T) {
	t.Parallel()
	api, pub := newUpstream(t, "api"), newUpstream(t, "pub")
	files := map[string]string{
		"bundle/.manifest":  policyManifest("v1", "portcullis"),
		"bundle/authz.rego": policyMethodVersion("v1"),
	}
	const hits, misses = `portcullis_policy_decision_cache_total{result="hit"}`, `portcullis_policy_decision_cache_total{result="miss"}`
	t.Run("on by default, and a reload starts over", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, gatewayConfig{
			Body:  "policy:\n  timeout: 2s\n  bundles: [{name: main, path: bundle}]\n  debounce: 50ms\n" + policyAnonymousRoutes(api, pub),
			Files: files,
		})
		if s := policyGetStatus(t, g).DecisionCache; s != "on" {
			t.Fatalf("decision_cache = %q, want on", s)
		}
		for i := range 5 {
			if status, v := policyHeader(t, g, fmt.Sprintf("/api/r%d", i)); status != 200 || v != "v1" {
				t.Fatalf("GET /api/r%d: %d by %q, want 200 by v1", i, status, v)
			}
		}
		if h, m := policyMetric(t, g, hits), policyMetric(t, g, misses); h != 4 || m != 1 {
			t.Fatalf("%v hits and %v misses, want 4 and 1: the decision for GET is cached whatever the path", h, m)
		}
		policyReplace(t, g, "bundle/authz.rego", policyDenyVersion("v2"))
		policyWaitDecision(t, g, 10*time.Second, "/api/r0", 403, "v2")
	})
	t.Run("off with 0", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, gatewayConfig{
			Body:  "policy:\n  decision_cache_size: 0\n  timeout: 2s\n  bundles: [{name: main, path: bundle}]\n" + policyAnonymousRoutes(api, pub),
			Files: files,
		})
		if s := policyGetStatus(t, g).DecisionCache; s != "off: disabled" {
			t.Fatalf("decision_cache = %q, want off: disabled", s)
		}
		policyHeader(t, g, "/api/a")
		policyHeader(t, g, "/api/a")
		if h := policyMetric(t, g, hits); h > 0 {
			t.Fatalf("%v cache hits with the cache off", h)
		}
	})
}

// policyContractRego answers by path: a custom status, a plain deny, an
// allow with headers, a runtime error, an undefined result, a
// non-conforming result and a boolean.
const policyContractRego = `package portcullis.authz

decision := {"allow": false, "status": 418, "reasons": ["short_and_stout"], "response_headers": {"X-Teapot": "yes"}} if input.request.path == "/c/teapot"

decision := {"allow": false, "reasons": ["nope"]} if input.request.path == "/c/deny"

decision := {"allow": true, "headers": {"X-Tenant": "acme"}, "response_headers": {"X-Why": "tenant-acme"}} if input.request.path == "/c/headers"

decision := {"allow": conflict == 1} if input.request.path == "/c/error"

decision := {"allow": true, "status": 500} if input.request.path == "/c/invalid"

decision := true if input.request.path == "/c/bool"

# Two values for one complete rule: an eval_conflict_error at run time.
conflict := 1 if input.request.path == "/c/error"

conflict := 2 if input.request.path == "/c/error"
`

func TestPolicyDecisionContract(t *testing.T) {
	t.Parallel()
	const apiKey = "contract-test-key-0123456789abcdef"
	sum := sha256.Sum256([]byte(apiKey))
	data := fmt.Sprintf(`{"portcullis": {"consumers": {"tester": {"groups": ["g"], "keys": [{"id": "k1", "hash": "sha256:%s"}]}}}}`, hex.EncodeToString(sum[:]))
	up := newUpstream(t, "contract")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
authn:
  api_keys: {header: X-API-Key, data_path: portcullis.consumers}
policy:
  timeout: 2s
  bundles: [{name: main, path: bundle}]
routes:
  - name: contract
    match: {path_prefix: /c}
    upstream: %s
    authn: {methods: [api_key], anonymous: true}
`, up.URL),
		Files: map[string]string{
			"bundle/.manifest":  policyManifest("contract", "portcullis"),
			"bundle/authz.rego": policyContractRego,
			"bundle/data.json":  data,
		},
	})
	withKey := map[string]string{"X-API-Key": apiKey}
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		want       int
		wantReason string            // the problem's reason, on deny
		wantResp   map[string]string // response headers
	}{
		{"a policy status is the response status", "/c/teapot", withKey, 418, "policy_deny", map[string]string{"X-Teapot": "yes"}},
		{"a policy status applies to anonymous callers too", "/c/teapot", nil, 418, "policy_deny", nil},
		{"an anonymous deny is 401 with WWW-Authenticate", "/c/deny", nil, 401, "policy_deny", map[string]string{"WWW-Authenticate": "Bearer"}},
		{"an authenticated deny is 403", "/c/deny", withKey, 403, "policy_deny", nil},
		{"a runtime error is a 403 deny", "/c/error", withKey, 403, "policy_error", nil},
		{"an undefined decision is a 403 deny", "/c/undefined", withKey, 403, "policy_undefined", nil},
		{"a status outside 4xx is a 403 deny", "/c/invalid", withKey, 403, "policy_invalid_result", nil},
		{"a boolean true allows", "/c/bool", withKey, 200, "", nil},
		{"decision response headers reach the client", "/c/headers", withKey, 200, "", map[string]string{"X-Why": "tenant-acme"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			resp := g.do("GET", tc.path, nil, tc.header)
			for name, want := range tc.wantResp {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("response %s = %q, want %q", name, got, want)
				}
			}
			reached := len(up.requests()) > n
			if tc.want == 200 {
				body := readAll(t, resp)
				if resp.StatusCode != 200 || !reached {
					t.Fatalf("GET %s = %d (upstream reached %v), want 200: %s", tc.path, resp.StatusCode, reached, body)
				}
				return
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s = %d, want %d: %s", tc.path, resp.StatusCode, tc.want, readAll(t, resp))
			}
			p := decodeProblem(t, resp)
			if p["reason"] != tc.wantReason || p["status"] != float64(tc.want) {
				t.Errorf("problem %v, want reason %s", p, tc.wantReason)
			}
			if reached {
				t.Errorf("a denied request reached the upstream")
			}
		})
	}

	t.Run("decision headers reach the upstream and the credential does not", func(t *testing.T) {
		n := len(up.requests())
		readAll(t, g.do("GET", "/c/headers", nil, map[string]string{"X-API-Key": apiKey, "X-Tenant": "spoofed"}))
		reqs := up.requests()[n:]
		if len(reqs) != 1 {
			t.Fatalf("upstream got %d requests", len(reqs))
		}
		if got := reqs[0].Header.Values("X-Tenant"); len(got) != 1 || got[0] != "acme" {
			t.Errorf("upstream X-Tenant = %q, want [acme]", got)
		}
		if got := reqs[0].Header.Get("X-API-Key"); got != "" {
			t.Errorf("upstream received the API key")
		}
	})

	t.Run("policy failures are counted", func(t *testing.T) {
		for _, series := range []string{
			`portcullis_policy_evaluations_total{result="error"}`,
			`portcullis_policy_evaluations_total{result="undefined"}`,
			`portcullis_policy_evaluations_total{result="invalid_result"}`,
		} {
			if v := policyMetric(t, g, series); v < 1 {
				t.Errorf("%s = %v, want at least 1", series, v)
			}
		}
	})
}

// policyHS256 mints an HS256 token for the input-document tests.
func policyHS256(t *testing.T, secret, issuer, subject string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(issuer).Subject(subject).IssuedAt(now).Expiration(now.Add(time.Hour)).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(secret)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// policyInputRego allows only the expected input document and names what
// did not match in X-Mismatch. data.portcullis.secrets holds the raw
// credentials, which must not occur anywhere in the input.
const policyInputRego = `package portcullis.authz

mismatch contains "version" if input.version != 2

mismatch contains "path" if input.request.path != "/api/v1/x"

mismatch contains "segments" if input.request.segments != ["api", "v1", "x"]

mismatch contains "authorization" if input.request.headers.authorization

mismatch contains "cookie" if input.request.headers.cookie

mismatch contains "identity" if {
	not input.identity.method == "jwt"
}

mismatch contains "identity" if {
	not input.identity.subject == "alice"
}

mismatch contains "secret" if {
	some s in data.portcullis.secrets
	contains(json.marshal(input), s)
}

decision := {"allow": count(mismatch) == 0, "reasons": sort(mismatch), "response_headers": {"X-Mismatch": concat(",", sort(mismatch))}}
`

// policyEnvoyRego is written for the opa-envoy-plugin: it reads the
// OPA-Envoy input shape and answers in its output form.
const policyEnvoyRego = `package portcullis.authz

default allowed := false

allowed if {
	input.attributes.request.http.method == "GET"
	array.slice(input.parsed_path, 1, 3) == ["items", "42"]
	input.parsed_query.color == ["blue"]
}

decision := {"allowed": allowed, "headers": {"x-ext-authz": "opa-envoy"}, "response_headers_to_add": {"x-envoy-policy": "seen"}}
`

func TestPolicyInputDocument(t *testing.T) {
	t.Parallel()

	t.Run("the policy sees the forwarded path and no credentials", func(t *testing.T) {
		t.Parallel()
		const secret = "input-document-test-secret-0123456789"
		const cookie = "session=cookie-value-that-must-stay-out"
		token := policyHS256(t, secret, "https://issuer.input.test", "alice")
		secrets, _ := json.Marshal([]string{token, "cookie-value-that-must-stay-out"})
		up := newUpstream(t, "api")
		g := startGateway(t, gatewayConfig{
			Body: fmt.Sprintf(`
authn:
  jwt:
    issuers:
      - {issuer: "https://issuer.input.test", algorithms: [HS256], secret: %q}
policy:
  timeout: 2s
  bundles: [{name: main, path: bundle}]
routes:
  - name: api
    match: {path_prefix: /api/v1}
    upstream: %s
    authn: {methods: [jwt]}
`, secret, up.URL),
			Files: map[string]string{
				"bundle/.manifest":  policyManifest("input", "portcullis"),
				"bundle/authz.rego": policyInputRego,
				"bundle/data.json":  fmt.Sprintf(`{"portcullis": {"secrets": %s}}`, secrets),
			},
		})
		request := func(p string) string {
			return "GET " + p + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nCookie: " + cookie + "\r\nConnection: close\r\n\r\n"
		}
		n := len(up.requests())
		out := rawRequest(t, g.proxy, request("/api/v1/./x"))
		if !strings.HasPrefix(out, "HTTP/1.1 200") {
			t.Fatalf("GET /api/v1/./x: %s", out)
		}
		if reqs := up.requests()[n:]; len(reqs) != 1 || reqs[0].URL.Path != "/api/v1/x" {
			t.Fatalf("upstream requests: %d", len(reqs))
		}
		// The same request on another path is denied: the policy decides.
		out = rawRequest(t, g.proxy, request("/api/v1/y"))
		if !strings.HasPrefix(out, "HTTP/1.1 403") || !strings.Contains(out, "X-Mismatch: path,segments\r\n") {
			t.Fatalf("GET /api/v1/y: %s", out)
		}
	})

	t.Run("the parsed JSON body reaches the policy only where the route opts in", func(t *testing.T) {
		t.Parallel()
		up := newUpstream(t, "api")
		g := startGateway(t, gatewayConfig{
			Body: fmt.Sprintf(`
policy:
  timeout: 2s
  bundles: [{name: main, path: bundle}]
routes:
  - name: body
    match: {path_prefix: /body}
    upstream: %[1]s
    authn: {anonymous: true}
    policy: {input_body: true}
  - name: nobody
    match: {path_prefix: /nobody}
    upstream: %[1]s
    authn: {anonymous: true}
`, up.URL),
			Files: map[string]string{
				"bundle/.manifest":  policyManifest("body", "portcullis"),
				"bundle/authz.rego": policyRego(`decision := {"allow": input.request.body.name == "widget"}`),
			},
		})
		tests := []struct {
			name, path, body string
			want             int
		}{
			{"a body the policy accepts is allowed and forwarded intact", "/body/items", `{"name": "widget", "size": 3}`, 200},
			{"a body the policy rejects is denied", "/body/items", `{"name": "gadget"}`, 401},
			{"a route without input_body gives the policy no body", "/nobody/items", `{"name": "widget"}`, 401},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n := len(up.requests())
				resp := g.do("POST", tc.path, strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json"})
				readAll(t, resp)
				if resp.StatusCode != tc.want {
					t.Fatalf("POST %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
				}
				reqs := up.requests()[n:]
				if tc.want != 200 {
					if len(reqs) != 0 {
						t.Fatal("a denied request reached the upstream")
					}
					return
				}
				if len(reqs) != 1 {
					t.Fatalf("upstream got %d requests", len(reqs))
				}
				if got, _ := io.ReadAll(reqs[0].Body); string(got) != tc.body {
					t.Fatalf("upstream body %q, want %q", got, tc.body)
				}
			})
		}
	})

	t.Run("an opa-envoy policy runs on routes with input_compat", func(t *testing.T) {
		t.Parallel()
		envoy, native := newUpstream(t, "envoy"), newUpstream(t, "native")
		g := startGateway(t, gatewayConfig{
			Body: fmt.Sprintf(`
policy:
  timeout: 2s
  bundles: [{name: main, path: bundle}]
routes:
  - name: envoy
    match: {path_prefix: /envoy}
    upstream: %s
    authn: {anonymous: true}
    policy: {input_compat: opa-envoy}
  - name: native
    match: {path_prefix: /native}
    upstream: %s
    authn: {anonymous: true}
`, envoy.URL, native.URL),
			Files: map[string]string{
				"bundle/.manifest":  policyManifest("envoy", "portcullis"),
				"bundle/authz.rego": policyEnvoyRego,
			},
		})
		tests := []struct {
			name, method, path string
			want               string
			up                 *upstream
		}{
			{"a GET with the expected parsed path is allowed", "GET", "/envoy/skip/../items/42?color=blue", "HTTP/1.1 200", envoy},
			{"another method is denied", "POST", "/envoy/items/42?color=blue", "HTTP/1.1 401", nil},
			{"an encoded slash never becomes a separator", "GET", "/envoy/items%2F42?color=blue", "HTTP/1.1 400", nil},
			{"a route without input_compat lacks the shape", "GET", "/native/items/42?color=blue", "HTTP/1.1 401", nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				nEnvoy, nNative := len(envoy.requests()), len(native.requests())
				out := rawRequest(t, g.proxy, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				if !strings.HasPrefix(out, tc.want) {
					t.Fatalf("%s %s: %s", tc.method, tc.path, out)
				}
				reqs := append(envoy.requests()[nEnvoy:], native.requests()[nNative:]...)
				if tc.up == nil {
					if len(reqs) != 0 {
						t.Fatalf("a denied request reached an upstream")
					}
					return
				}
				if len(reqs) != 1 || reqs[0].Header.Get("X-Ext-Authz") != "opa-envoy" {
					t.Fatalf("upstream requests %d, want one with x-ext-authz", len(reqs))
				}
				if !strings.Contains(strings.ToLower(out), "\r\nx-envoy-policy: seen\r\n") {
					t.Fatalf("response lacks x-envoy-policy: %s", out)
				}
			})
		}
	})
}

// policyEvalRego allows GET and denies anything else with a reason.
const policyEvalRego = `package portcullis.authz

decision := {"allow": true} if input.request.method == "GET"

else := {"allow": false, "reasons": ["not_get"]}
`

// policyRunEval runs `portcullis eval` and returns its decoded output.
func policyRunEval(t *testing.T, cfg, input string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "eval", "--config", cfg, "--input", input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("eval output %q (stderr %q): %v", stdout.String(), stderr.String(), err)
	}
	allow, _ := out["allow"].(bool)
	code := cmd.ProcessState.ExitCode()
	if _, event := out["recorded"]; event {
		// An event that reached the policy exits 0 when replayed to the
		// recorded decision, 4 when not.
		if differs, _ := out["differs"].(bool); differs != (code == 4) || !differs && code != 0 {
			t.Fatalf("eval exit code %d with differs %v", code, differs)
		}
	} else if allow != (code == 0) {
		t.Fatalf("eval exit code %d with allow %v", code, allow)
	}
	return out
}

func TestPolicyEvalReplaysDecisionLogEvents(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  timeout: 2s
  bundles: [{name: main, path: bundle}]
decision_log:
  file: {path: decisions.log}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, up.URL),
		Files: map[string]string{
			"bundle/.manifest":  policyManifest("eval", "portcullis"),
			"bundle/authz.rego": policyEvalRego,
		},
	})
	want := map[string]int{"GET": 200, "DELETE": 401}
	ids := map[string]string{}
	for method, status := range want {
		resp := g.do(method, "/api/v1/thing", nil, nil)
		readAll(t, resp)
		if resp.StatusCode != status {
			t.Fatalf("%s = %d, want %d", method, resp.StatusCode, status)
		}
		ids[resp.Header.Get("X-Decision-Id")] = method
	}

	events := map[string]json.RawMessage{}
	policyEventually(t, 10*time.Second, "both decisions in the decision-log file", func() bool {
		f, err := os.Open(filepath.Join(g.dir, "decisions.log"))
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev struct {
				DecisionID string `json:"decision_id"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ids[ev.DecisionID] != "" {
				events[ids[ev.DecisionID]] = append(json.RawMessage(nil), sc.Bytes()...)
			}
		}
		return len(events) == len(want)
	})
	for method, raw := range events {
		t.Run("the "+method+" event replays to the same decision", func(t *testing.T) {
			var ev struct {
				Result struct {
					Allow   bool     `json:"allow"`
					Reasons []string `json:"reasons"`
				} `json:"result"`
			}
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Result.Allow != (want[method] == 200) {
				t.Fatalf("logged result %+v for a %d", ev.Result, want[method])
			}
			p := filepath.Join(t.TempDir(), "event.json")
			if err := os.WriteFile(p, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			out := policyRunEval(t, filepath.Join(g.dir, "portcullis.yaml"), p)
			if out["allow"] != ev.Result.Allow {
				t.Fatalf("eval allow = %v, the gateway decided %v: %v", out["allow"], ev.Result.Allow, out)
			}
			reasons := fmt.Sprint(out["reasons"])
			for _, r := range ev.Result.Reasons {
				if !strings.Contains(reasons, r) {
					t.Fatalf("eval reasons %s lack the logged %q", reasons, r)
				}
			}
		})
	}
}

func TestPolicyTestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dir      func(t *testing.T) string
		wantCode int
		want     string
	}{
		{"the example bundle's tests pass", func(*testing.T) string { return "../bundles" }, 0, "PASS"},
		{"a failing test fails the run", func(t *testing.T) string {
			dir := t.TempDir()
			rego := policyRego("decision := {\"allow\": false}\n\ntest_allows if {\n\tdecision.allow\n}")
			if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(rego), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, 2, "FAIL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, binary, "test", tc.dir(t)).CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			code := 0
			if exit != nil {
				code = exit.ExitCode()
			}
			if code != tc.wantCode || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %d, want %d; output lacks %q:\n%s", code, tc.wantCode, tc.want, out)
			}
		})
	}
}
