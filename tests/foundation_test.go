package tests

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// routingConfig has two upstreams: "api" behind /api/v1 (GET, POST) and
// "public" behind /public, and an allow-all policy.
func routingConfig(api, public *upstream) gatewayConfig {
	return gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  bundles:
    - name: main
      path: bundle
routes:
  - name: api
    match: {path_prefix: /api/v1, methods: [GET, POST]}
    upstream: %s
    authn: {anonymous: true}
  - name: public
    match: {path_prefix: /public}
    upstream: %s
    authn: {anonymous: true}
`, api.URL, public.URL),
		Files: allowAllBundle,
	}
}

func TestFoundationRouting(t *testing.T) {
	api, public := newUpstream(t, "api"), newUpstream(t, "public")
	g := startGateway(t, routingConfig(api, public))

	t.Run("readiness and liveness answer 200", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(g.admin + p)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s = %d, want 200", p, resp.StatusCode)
			}
		}
	})

	t.Run("a request is routed by prefix to its upstream", func(t *testing.T) {
		resp := g.do("GET", "/api/v1/users", nil, nil)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || body != "api GET /api/v1/users" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Fatal("no X-Request-Id on the response")
		}
		resp = g.do("GET", "/public/x", nil, nil)
		if body := readAll(t, resp); body != "public GET /public/x" {
			t.Fatalf("got %q", body)
		}
	})

	t.Run("an unknown route gets a 404 problem", func(t *testing.T) {
		resp := g.do("GET", "/nowhere", nil, nil)
		p := decodeProblem(t, resp)
		if resp.StatusCode != 404 || p["status"] != float64(404) || p["title"] != "Not Found" || p["request_id"] == "" || p["type"] == "" {
			t.Fatalf("got %d %v", resp.StatusCode, p)
		}
	})

	t.Run("a method the route does not accept gets 405 with Allow", func(t *testing.T) {
		resp := g.do("DELETE", "/api/v1/users", nil, nil)
		p := decodeProblem(t, resp)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" || p["status"] != float64(405) {
			t.Fatalf("got %d Allow=%q %v", resp.StatusCode, resp.Header.Get("Allow"), p)
		}
	})

	t.Run("a client-sent X-Forwarded-For is replaced", func(t *testing.T) {
		n := len(api.requests())
		readAll(t, g.do("GET", "/api/v1/xff", nil, map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil"}))
		got := api.requests()[n]
		if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
			t.Fatalf("X-Forwarded-For = %q, want 127.0.0.1", xff)
		}
		if h := got.Header.Get("X-Forwarded-Host"); strings.Contains(h, "evil") {
			t.Fatalf("X-Forwarded-Host = %q kept the client's value", h)
		}
	})

	t.Run("Connection naming X-Request-Id does not strip the gateway's header", func(t *testing.T) {
		n := len(api.requests())
		resp := g.do("GET", "/api/v1/conn", nil, map[string]string{"Connection": "X-Request-Id, X-Forwarded-For", "X-Request-Id": "client-id-1"})
		readAll(t, resp)
		got := api.requests()[n]
		if got.Header.Get("X-Request-Id") != "client-id-1" || got.Header.Get("X-Forwarded-For") == "" {
			t.Fatalf("upstream saw X-Request-Id=%q X-Forwarded-For=%q", got.Header.Get("X-Request-Id"), got.Header.Get("X-Forwarded-For"))
		}
		if resp.Header.Get("X-Request-Id") != "client-id-1" {
			t.Fatalf("response X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
		}
	})

	t.Run("a header block over the limit gets 431", func(t *testing.T) {
		resp := g.do("GET", "/api/v1/big", nil, map[string]string{"X-Big": strings.Repeat("a", 128<<10)})
		readAll(t, resp)
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("got %d, want 431", resp.StatusCode)
		}
	})

	t.Run("path tricks never reach an upstream the normalized path does not route to", func(t *testing.T) {
		for _, tc := range []struct{ path, want string }{
			{"/api/v1/../admin", "HTTP/1.1 404"},
			{"/api/v1/%2e%2e/admin", "HTTP/1.1 400"},
			{"/api/v1%2Fadmin", "HTTP/1.1 400"},
			{"/public/..%2F..%2Fapi/v1/x", "HTTP/1.1 400"},
			{"/public/../api/v1/x", "HTTP/1.1 200"},
			{"/api/v1/..;/admin", "HTTP/1.1 400"},
		} {
			nAPI, nPub := len(api.requests()), len(public.requests())
			out := rawRequest(t, g.proxy, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(out, tc.want) {
				t.Fatalf("%s: got %q, want %s", tc.path, firstLine(out), tc.want)
			}
			apiReqs, pubReqs := api.requests()[nAPI:], public.requests()[nPub:]
			if tc.want != "HTTP/1.1 200" && (len(apiReqs) > 0 || len(pubReqs) > 0) {
				t.Fatalf("%s reached an upstream", tc.path)
			}
			if tc.want == "HTTP/1.1 200" && (len(apiReqs) != 1 || apiReqs[0].URL.Path != "/api/v1/x" || len(pubReqs) != 0) {
				t.Fatalf("%s: want exactly the api upstream with /api/v1/x", tc.path)
			}
		}
	})

	t.Run("metrics show the requests", func(t *testing.T) {
		resp, err := http.Get(g.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		for _, series := range []string{
			`portcullis_http_requests_total{method="GET",route="api",status="200"}`,
			`portcullis_http_gateway_duration_seconds_count{route="api"}`,
			`portcullis_http_upstream_duration_seconds_count{route="api"}`,
		} {
			if !strings.Contains(body, series) {
				t.Fatalf("metrics lack %s:\n%s", series, body)
			}
		}
	})
}

func TestFoundationGracefulShutdown(t *testing.T) {
	api, public := newUpstream(t, "api"), newUpstream(t, "public")
	g := startGateway(t, routingConfig(api, public))
	api.setDelay(1500 * time.Millisecond)
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(g.proxy + "/api/v1/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(api.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	g.signal(syscall.SIGTERM)
	r := <-done
	if r.err != nil || r.status != 200 || r.body != "api GET /api/v1/slow" {
		t.Fatalf("in-flight request during SIGTERM: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		t.Fatal("gateway did not exit after draining")
	}
}

func TestCheckReportsUnknownFieldWithLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(cfg, []byte("listen:\n  proxy: \":0\"\nroutes:\n  - name: x\n    upstrem: http://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "check", "--config", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("check succeeded on a bad config:\n%s", out)
	}
	if want := cfg + `:5: routes[0].upstrem: unknown field (did you mean "upstream"?)`; !strings.Contains(string(out), want) {
		t.Fatalf("check output %q lacks %q", out, want)
	}
}

func decodeProblem(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func TestCheckReportsEveryBrokenFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"bundle/.manifest":  `{"revision": "r", "roots": ["portcullis"]}`,
		"bundle/authz.rego": "package portcullis.authz\n\ndecision := \n",
		"spec.yaml":         "openapi: 3.0.3\npaths: [\n",
		"c.yaml": `policy:
  bundles: [{name: main, path: bundle}]
routes:
  - name: r
    match: {path_prefix: /}
    upstream: http://127.0.0.1:1
    openapi: {spec: spec.yaml}
`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(binary, "check", "--config", filepath.Join(dir, "c.yaml")).CombinedOutput()
	if err == nil {
		t.Fatalf("check succeeded:\n%s", out)
	}
	for _, want := range []string{filepath.Join(dir, "bundle", "authz.rego") + ":4: rego_parse_error", filepath.Join(dir, "spec.yaml")} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// TestFoundationTLS terminates TLS on the proxy listener with a generated
// certificate, over HTTP/1.1 and HTTP/2, and tells the policy the scheme.
func TestFoundationTLS(t *testing.T) {
	certs := newTestTLS(t)
	api := newUpstream(t, "api")
	// The policy allows only requests it sees arriving over https.
	files := map[string]string{
		"bundle/.manifest":  `{"revision": "tls", "roots": ["portcullis"]}`,
		"bundle/authz.rego": "package portcullis.authz\n\ndecision := input.request.scheme == \"https\"\n",
	}
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen,
		Body: fmt.Sprintf(`
policy:
  bundles: [{name: main, path: bundle}]
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, api.URL),
		Files: withFiles(files, certs.files),
	})
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, err := (&http.Client{Transport: tr}).Get(strings.Replace(g.proxy, "http://", "https://", 1) + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 || body != "api GET /api/x" || (resp.ProtoMajor == 2) != h2 {
			t.Fatalf("h2=%v: got %s %d %q", h2, resp.Proto, resp.StatusCode, body)
		}
	}
	// Plain HTTP on the TLS port gets no answer the client could mistake.
	if resp, err := http.Get(g.proxy + "/api/x"); err == nil {
		readAll(t, resp)
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the TLS listener")
		}
	}
}
