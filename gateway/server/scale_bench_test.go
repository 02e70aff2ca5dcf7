package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/internal/scalebench"
)

// scaleRoutes are the points of the routes axis of make bench-scale.
var scaleRoutes = []int{10, 100, 1000, 10000}

// BenchmarkScaleRoutes is the routes axis of make bench-scale (issue 20):
// a GET through the whole server (route lookup, allow-all policy, proxying
// to one local upstream) to the last of n routes, which are alternately
// path prefixes and path templates, one in ten with a host. It reports the
// time to build the server from the parsed config (build-ms), the heap the
// server holds (heap-MiB, B/route) and ns/op of the request; a flat ns/op
// across the points is what the route index promises.
func BenchmarkScaleRoutes(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(up.Close)
	dir := b.TempDir()
	policyDir := filepath.Join(dir, "allow")
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(policyDir, "allow.rego"), []byte("package portcullis.authz\n\ndecision := true\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, n := range scaleRoutes {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			cfg, err := config.Parse(filepath.Join(dir, "routes.yaml"), []byte(routesConfig(policyDir, up.URL, n)))
			if err != nil {
				b.Fatal(err)
			}
			m := scalebench.Metrics{}
			srv := scalebench.Heap(m, n, "B/route", func() *Server {
				return scalebench.Duration(m, "build-ms", func() *Server {
					srv, err := New(context.Background(), cfg, Options{Logger: zerolog.Nop(), Version: "bench", Tracer: benchTracer})
					if err != nil {
						b.Fatal(err)
					}
					return srv
				})
			})
			b.Cleanup(func() { _ = srv.gen.Load().Close(context.Background()) })
			// The last route is a template (n is even), the worst case of
			// an ordered walk.
			path := fmt.Sprintf("/svc%d/users/42", n-1)
			get := func() {
				req := httptest.NewRequest("GET", path, nil)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("GET %s: status %d: %s", path, w.Code, w.Body)
				}
			}
			get()
			b.ReportAllocs()
			for b.Loop() {
				get()
			}
			m.Report(b)
		})
	}
}

// routesConfig is a gateway config with n anonymous routes to upstream.
func routesConfig(policyDir, upstream string, n int) string {
	return fmt.Sprintf(`listen: {proxy: "127.0.0.1:0", admin: "127.0.0.1:0"}
policy:
  bundles: [{name: allow, path: %s}]
  watch: false
decision_log: {stdout: false}
`, policyDir) + scalebench.RoutesYAML(n, upstream)
}
