package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exampleGateway runs the repository's example configuration, bundle and
// schema (the files the README's tour uses) against a local upstream, on
// free ports, with a freshly generated demo issuer.
func exampleGateway(t *testing.T) (*gateway, *upstream) {
	t.Helper()
	up := newUpstream(t, "demo")
	return exampleGatewayFor(t, up.URL), up
}

// exampleGatewayFor is exampleGateway in front of the upstream at upstreamURL.
func exampleGatewayFor(t *testing.T, upstreamURL string) *gateway {
	t.Helper()
	cfg, err := os.ReadFile("../portcullis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := string(cfg)
	// The harness writes its own listen section; drop the example's and
	// point the routes at the test upstream.
	start := strings.Index(body, "listen:")
	end := strings.Index(body, "\nlog:")
	if start < 0 || end < start {
		t.Fatal("portcullis.yaml: cannot find the listen section")
	}
	body = body[:start] + body[end+1:]
	body = strings.ReplaceAll(body, "http://127.0.0.1:9000", upstreamURL)
	files := map[string]string{}
	for _, dir := range []string{"../bundles", "../schemas"} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			files[strings.TrimPrefix(p, "../")] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	g := startGateway(t, gatewayConfig{Body: body, Files: files, NoWait: true, PreStart: func(dir string) {
		run(t, binary, "demo", "keys", "--dir", filepath.Join(dir, ".demo"))
	}})
	g.waitReady()
	return g
}

// run runs a command and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// TestTourExpectedBehaviour checks the requests of the README's tour against
// the example configuration, upstream by upstream (tests/readme_test.go runs
// the tour's commands themselves).
func TestTourExpectedBehaviour(t *testing.T) {
	g, up := exampleGateway(t)
	demo := filepath.Join(g.dir, ".demo")
	token := strings.TrimSpace(run(t, binary, "demo", "token", "--dir", demo))
	expired := strings.TrimSpace(run(t, binary, "demo", "token", "--dir", demo, "--expired"))
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	readKey := map[string]string{"X-API-Key": "partner-read-key-rotated-2026-04"}
	withJSON := func(h map[string]string) map[string]string {
		out := map[string]string{"Content-Type": "application/json"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name         string
		method, path string
		body         string
		header       map[string]string
		want         int
		reachesUp    bool
	}{
		{"a public route needs no credential", "GET", "/public/hello", "", nil, 200, true},
		{"a request without token is rejected", "GET", "/api/v1/users", "", nil, 401, false},
		{"a request with a valid token is accepted", "GET", "/api/v1/users", "", bearer(token), 200, true},
		{"a request with an expired token is rejected", "GET", "/api/v1/users", "", bearer(expired), 401, false},
		{"the read-only API key may read", "GET", "/api/v1/users", "", readKey, 200, true},
		{"the read-only API key may not write", "POST", "/api/v1/users", `{"name":"test"}`, withJSON(readKey), 403, false},
		{"the full-access key may write", "POST", "/api/v1/users", `{"name":"test","email":"t@example.com"}`,
			withJSON(map[string]string{"X-API-Key": "internal-svc-key-rotated-2026-04"}), 200, true},
		{"an invalid body with a valid token is a 400", "POST", "/api/v1/users", `{"invalid_field": "value"}`, withJSON(bearer(token)), 400, false},
		{"an oversized payload is a 413", "POST", "/api/v1/upload", strings.Repeat("\x00", 2<<20), bearer(token), 413, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			resp := g.do(tc.method, tc.path, body, tc.header)
			got := readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s = %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.want, got)
			}
			if reached := len(up.requests()) > n; reached != tc.reachesUp {
				t.Fatalf("upstream reached = %v, want %v", reached, tc.reachesUp)
			}
		})
	}
}

// TestTourForgedHeadersNeverReachTheUpstream is the tour's "one request,
// one meaning" line: an identity header in two spellings and a method
// override are removed before the public route's upstream sees the request.
func TestTourForgedHeadersNeverReachTheUpstream(t *testing.T) {
	g, up := exampleGateway(t)
	resp := g.do("GET", "/public/hello", nil, map[string]string{
		"X_User_Id": "admin", "x-user-id": "admin", "X-HTTP-Method-Override": "DELETE",
	})
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("GET /public/hello = %d: %s", resp.StatusCode, body)
	}
	reqs := up.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	for name := range got.Header {
		switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
		case "x-user-id", "x-http-method-override":
			t.Errorf("the upstream received %s: %q", name, got.Header[name])
		}
	}
	if got.Method != "GET" {
		t.Errorf("the upstream saw method %s, want GET", got.Method)
	}
}

// TestExampleConfigChecks is the README's `portcullis check` on the example.
func TestExampleConfigChecks(t *testing.T) {
	g, _ := exampleGateway(t)
	out := run(t, binary, "check", "--config", filepath.Join(g.dir, "portcullis.yaml"))
	if !strings.Contains(out, "OK") {
		t.Fatalf("check output: %s", out)
	}
}

// TestExampleThrottlesGuessedKeys: the example configuration's
// credential-stuffing defence trips within 100 failures from one address,
// and then refuses that address's good key too, unchecked.
func TestExampleThrottlesGuessedKeys(t *testing.T) {
	g, _ := exampleGateway(t)
	good := map[string]string{"X-API-Key": "partner-read-key-rotated-2026-04"}
	if r := g.do("GET", "/api/v1/users", nil, good); r.StatusCode != 200 {
		t.Fatalf("the partner's key before any guess: %d", r.StatusCode)
	}
	tripped := 0
	for i := 1; i <= 100 && tripped == 0; i++ {
		r := g.do("GET", "/api/v1/users", nil, map[string]string{"X-API-Key": fmt.Sprintf("guess-%d", i)})
		switch r.StatusCode {
		case 401:
		case 429:
			tripped = i
		default:
			t.Fatalf("guess %d: %d", i, r.StatusCode)
		}
	}
	r := g.do("GET", "/api/v1/users", nil, good)
	if tripped == 0 && r.StatusCode == 429 {
		tripped = 101
	}
	if tripped == 0 {
		t.Fatal("100 failed authentications did not trip the defence")
	}
	var p struct{ Reason string }
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || r.StatusCode != 429 || p.Reason != "auth_throttled" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the good key after the guesses: %d %q (Retry-After %q), want 429 auth_throttled", r.StatusCode, p.Reason, r.Header.Get("Retry-After"))
	}
}
