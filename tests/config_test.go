package tests

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRouteHeadLimits checks that a route's max_headers, max_url_bytes and
// max_query_bytes apply once the route is known, while another route keeps
// the global ones.
func TestRouteHeadLimits(t *testing.T) {
	t.Parallel()
	api := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  bundles: [{name: main, path: bundle}]
routes:
  - name: strict
    match: {path_prefix: /strict}
    upstream: %[1]s
    authn: {anonymous: true}
    limits: {max_headers: 8, max_url_bytes: 64, max_query_bytes: 16}
  - name: loose
    match: {path_prefix: /loose}
    upstream: %[1]s
    authn: {anonymous: true}
`, api.URL),
		Files: withFiles(allowAllBundle),
	})
	many := map[string]string{}
	for i := range 10 {
		many[fmt.Sprintf("X-H%d", i)] = "v"
	}
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"a request within the route's limits passes", "/strict/a?q=1", nil, http.StatusOK},
		{"too many headers for the route get 431", "/strict/a", many, http.StatusRequestHeaderFieldsTooLarge},
		{"a query too long for the route gets 414", "/strict/a?q=" + strings.Repeat("x", 20), nil, http.StatusRequestURITooLong},
		{"a target too long for the route gets 414", "/strict/" + strings.Repeat("p", 70), nil, http.StatusRequestURITooLong},
		{"another route keeps the global header count", "/loose/a", many, http.StatusOK},
		{"another route keeps the global query length", "/loose/a?q=" + strings.Repeat("x", 20), nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := g.do(http.MethodGet, tc.path, nil, tc.header)
			readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestCheckReportsEveryProblem runs portcullis check on a file with
// problems of several kinds and expects all of them, ordered by line.
func TestCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := `listen:
  max_connections: lots
log:
  levle: debug
policy:
  bundles: [{name: main, path: missing}]
routes:
  - name: api
    match: {path_prefix: api}
    upstream: http://127.0.0.1:1
    timout: 5s
    limits: {max_headers: 500}
`
	path := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "check", "--config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("check passed:\n%s", out)
	}
	want := []string{
		path + `:2: listen.max_connections: want an integer, got "lots"`,
		path + `:4: log.levle: unknown field (did you mean "level"?)`,
		path + `:6: policy.bundles[0].path: stat ` + filepath.Join(dir, "missing") + `: no such file or directory`,
		path + `:9: routes[0].match.path_prefix: "api" must start with /`,
		path + `:11: routes[0].timout: unknown field (did you mean "timeout"?)`,
		path + `:12: routes[0].limits.max_headers: 500 exceeds limits.max_headers 100, which is checked first, before routing (a route may only be stricter)`,
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Fatalf("check printed\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}
