package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"time"
)

// sink is a ResponseWriter that keeps nothing, so the benchmark measures
// the proxy, not a recorder.
type sink struct{ h http.Header }

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) Write(p []byte) (int, error) { return len(p), nil }
func (s *sink) WriteHeader(int)             {}
func (s *sink) Flush()                      {}

// BenchmarkServe forwards a GET to a loopback upstream through
// ReverseProxy (the upgrade path) and through forward (every other request).
func BenchmarkServe(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer up.Close()
	tr, err := NewTransport(time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	p, err := New(&config.Route{Timeout: 5 * time.Second, ConnectTimeout: time.Second, Upstreams: []string{up.URL}}, tr)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		via  func(http.ResponseWriter, *http.Request, *Exchange)
	}{
		{"ReverseProxy", func(w http.ResponseWriter, r *http.Request, _ *Exchange) { p.rp.ServeHTTP(w, r) }},
		{"forward", p.relay},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/items/42?page=2", nil)
			req.Header.Set("User-Agent", "bench")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("X-Forwarded-For", "192.0.2.7")
			w := &sink{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				st := newTestState()
				st.Input.Request.ID = "rid-1"
				clear(w.h)
				if err := p.exchange(w, st.with(req), bc.via); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
