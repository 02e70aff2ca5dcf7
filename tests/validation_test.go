package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validationGateway serves the users API (schemas/users.yaml) on /api/v1
// in enforce mode, the same API in report mode for Host report.local, a
// route with a 4 KiB body limit on /small and one that requires
// Content-Length on /strict, all behind an allow-all policy, with the
// decision log in decisions.log.
func validationGateway(t *testing.T) (*gateway, *upstream) {
	t.Helper()
	up := newUpstream(t, "users")
	spec := readFile(t, "../schemas/users.yaml")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
  debounce: 50ms
decision_log:
  file: {path: decisions.log}
routes:
  - name: users-report
    match: {path_prefix: /api/v1, host: report.local}
    upstream: %[1]s
    authn: {anonymous: true}
    openapi: {spec: schemas/users-report.yaml, mode: report}
  - name: users
    match: {path_prefix: /api/v1}
    upstream: %[1]s
    authn: {anonymous: true}
    openapi: {spec: schemas/users.yaml}
  - name: small
    match: {path_prefix: /small}
    upstream: %[1]s
    authn: {anonymous: true}
    limits: {max_body_bytes: 4KiB}
  - name: strict
    match: {path_prefix: /strict}
    upstream: %[1]s
    authn: {anonymous: true}
    limits: {require_content_length: true}
`, up.URL),
		Files: withFiles(allowAllBundle, map[string]string{
			"schemas/users.yaml":        spec,
			"schemas/users-report.yaml": spec,
		}),
	})
	return g, up
}

// problemParams returns the names of a problem's invalid_params.
func problemParams(p map[string]any) []string {
	var names []string
	list, _ := p["invalid_params"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		names = append(names, name)
	}
	return names
}

func TestValidationEndToEnd(t *testing.T) {
	g, up := validationGateway(t)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	deep := `{"name": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `, "email": "a@example.com"}`
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		status     int
		reason     string
		param      string // an invalid_params name that must be listed
		neverEcho  string // a value that must not be in the response
		reachesUps bool
	}{
		{name: "a valid body passes", method: "POST", path: "/api/v1/users", body: `{"name": "Ada", "email": "ada@example.com", "role": "admin"}`,
			header: jsonCT, status: 200, reachesUps: true},
		{name: "a missing required field is a 400", method: "POST", path: "/api/v1/users", body: `{"name": "zq-missing-email-value"}`,
			header: jsonCT, status: 400, reason: "validation_failed", param: "/email", neverEcho: "zq-missing-email-value"},
		{name: "a wrong type is a 400", method: "POST", path: "/api/v1/users", body: `{"name": 4242424242, "email": "a@example.com"}`,
			header: jsonCT, status: 400, reason: "validation_failed", param: "/name", neverEcho: "4242424242"},
		{name: "a bad email is a 400", method: "POST", path: "/api/v1/users", body: `{"name": "a", "email": "zq-not-an-email"}`,
			header: jsonCT, status: 400, reason: "validation_failed", param: "/email", neverEcho: "zq-not-an-email"},
		{name: "a bad enum value is a 400", method: "POST", path: "/api/v1/users", body: `{"name": "a", "email": "a@example.com", "role": "zq-superuser"}`,
			header: jsonCT, status: 400, reason: "validation_failed", param: "/role", neverEcho: "zq-superuser"},
		{name: "an extra field is a 400", method: "POST", path: "/api/v1/users", body: `{"name": "a", "email": "a@example.com", "isAdmin": "zq-yes-please"}`,
			header: jsonCT, status: 400, reason: "validation_failed", neverEcho: "zq-yes-please"},
		{name: "a query parameter out of range is a 400", method: "GET", path: "/api/v1/users?limit=987654", status: 400, reason: "validation_failed", param: "limit", neverEcho: "987654"},
		{name: "a path parameter that is not a uuid is a 400", method: "GET", path: "/api/v1/users/zq-not-a-uuid", status: 400, reason: "validation_failed", neverEcho: "zq-not-a-uuid"},
		{name: "a wrong content type is a 415", method: "POST", path: "/api/v1/users", body: `name=a`,
			header: map[string]string{"Content-Type": "text/plain"}, status: 415, reason: "unsupported_media_type"},
		{name: "a 2 MiB body is a 413", method: "POST", path: "/api/v1/users", body: `{"name": "` + strings.Repeat("a", 2<<20) + `"}`,
			header: jsonCT, status: 413, reason: "body_too_large"},
		{name: "deep JSON nesting is a 400", method: "POST", path: "/api/v1/users", body: deep, header: jsonCT, status: 400, reason: "json_too_deep"},
		{name: "an unknown operation is a 404", method: "GET", path: "/api/v1/nothing", status: 404, reason: "unknown_operation"},
		{name: "an undeclared method on a known path is refused", method: "DELETE", path: "/api/v1/users", status: 405, reason: "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			resp := g.do(tc.method, tc.path, body, tc.header)
			if reached := len(up.requests()) > n; reached != tc.reachesUps {
				t.Errorf("upstream reached = %v, want %v", reached, tc.reachesUps)
			}
			if tc.status == 200 {
				if out := readAll(t, resp); resp.StatusCode != 200 {
					t.Fatalf("got %d: %s", resp.StatusCode, out)
				}
				return
			}
			p := decodeProblem(t, resp)
			if resp.StatusCode != tc.status || p["reason"] != tc.reason {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, p, tc.status, tc.reason)
			}
			if tc.reason == "validation_failed" && len(problemParams(p)) == 0 {
				t.Fatalf("no invalid_params: %v", p)
			}
			if tc.param != "" && !contains(problemParams(p), tc.param) {
				t.Fatalf("invalid_params %v lack %q", problemParams(p), tc.param)
			}
			if tc.neverEcho != "" && strings.Contains(fmt.Sprint(p), tc.neverEcho) {
				t.Fatalf("the problem echoes the value %q: %v", tc.neverEcho, p)
			}
		})
	}
}

func TestValidationChunkedBodyLimits(t *testing.T) {
	g, up := validationGateway(t)
	chunked := func(path string, size int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", path)
		for left := size; left > 0; left -= 1024 {
			c := min(left, 1024)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", c, strings.Repeat("z", c))
		}
		b.WriteString("0\r\n\r\n")
		return b.String()
	}
	tests := []struct {
		name, path string
		size       int
		want       string
		reachesUp  bool
	}{
		{"a chunked body under the limit is forwarded", "/small/up", 2048, "HTTP/1.1 200", true},
		{"a chunked body over the limit is a 413 and never forwarded", "/small/up", 8192, "HTTP/1.1 413", false},
		{"a body without Content-Length where one is required is a 411", "/strict/up", 10, "HTTP/1.1 411", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			out := rawRequest(t, g.proxy, chunked(tc.path, tc.size))
			if !strings.HasPrefix(out, tc.want) {
				t.Fatalf("got %q, want %s", firstLine(out), tc.want)
			}
			if reached := len(up.requests()) > n; reached != tc.reachesUp {
				t.Fatalf("upstream reached = %v, want %v", reached, tc.reachesUp)
			}
		})
	}
}

func TestValidationReportModeLetsInvalidBodiesThrough(t *testing.T) {
	g, up := validationGateway(t)
	n := len(up.requests())
	resp := g.do("POST", "/api/v1/users", strings.NewReader(`{"name": "a"}`),
		map[string]string{"Content-Type": "application/json", "Host": "report.local"})
	if out := readAll(t, resp); resp.StatusCode != 200 || len(up.requests()) != n+1 {
		t.Fatalf("report mode: got %d (%s), upstream requests %d", resp.StatusCode, out, len(up.requests())-n)
	}
	id := resp.Header.Get("X-Decision-Id")
	path := filepath.Join(g.dir, "decisions.log")
	ev := waitEvents(t, "file", []string{id}, 10*time.Second, func() []dlEvent { return fileEvents(path) })[id][0]
	v, _ := ev.Input["validation"].(map[string]any)
	errs, _ := v["errors"].([]any)
	if ev.Portcullis.Route != "users-report" || v["valid"] != false || len(errs) == 0 || !ev.Portcullis.Allow {
		t.Fatalf("the decision log does not record the invalid body: %s", ev.raw)
	}
}

func TestValidationSpecReload(t *testing.T) {
	g, _ := validationGateway(t)
	specPath := filepath.Join(g.dir, "schemas", "users.yaml")
	status := func(method, path, body string) int {
		t.Helper()
		var resp *http.Response
		if body == "" {
			resp = g.do(method, path, nil, nil)
		} else {
			resp = g.do(method, path, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		}
		readAll(t, resp)
		return resp.StatusCode
	}
	const invalid, valid = `{"name": "a"}`, `{"name": "a", "email": "a@example.com"}`

	t.Run("a broken spec is refused and the old one keeps validating", func(t *testing.T) {
		if err := os.WriteFile(specPath, []byte("openapi: 3.0.3\ninfo: {title: broken\npaths: [\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(g.stderr.String(), "reload failed; the running generation is kept") {
			if time.Now().After(deadline) {
				t.Fatalf("no refused reload logged within 10s:\n%s", g.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := status("POST", "/api/v1/users", invalid); got != 400 {
			t.Fatalf("invalid body after a broken spec: %d, want 400", got)
		}
		if got := status("POST", "/api/v1/users", valid); got != 200 {
			t.Fatalf("valid body after a broken spec: %d, want 200", got)
		}
	})

	t.Run("a good new spec replaces the old one", func(t *testing.T) {
		spec := strings.Replace(readFile(t, "../schemas/users.yaml"), "  /admin/stats:\n", "  /admin/statistics:\n", 1)
		tmp := specPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, specPath); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for status("GET", "/api/v1/admin/statistics", "") != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("the new spec was not loaded within 10s:\n%s", g.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := status("GET", "/api/v1/admin/stats", ""); got != 404 {
			t.Fatalf("an operation the new spec removed: %d, want 404", got)
		}
		if got := status("POST", "/api/v1/users", invalid); got != 400 {
			t.Fatalf("invalid body with the new spec: %d, want 400", got)
		}
	})
}
