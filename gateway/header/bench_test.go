package header

import (
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// BenchmarkScreen is the screening of a typical API request from a client
// that is no trusted proxy: a GET with a bearer token and a query, no
// hop-by-hop, forwarding or override header. Each iteration starts from
// the client's header set again (Screen adds X-Forwarded-* and
// X-Request-Id).
func BenchmarkScreen(b *testing.B) {
	c, _ := newCleaner(b, cleanerOpts{})
	sent := http.Header{
		"User-Agent":      {"bench/1.0"},
		"Accept":          {"application/json"},
		"Accept-Encoding": {"gzip"},
		"Authorization":   {"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"},
		"X-Trace":         {"abc"},
	}
	r := request(http.MethodGet, "/api/v1/users/bench-user-1?limit=10", [][2]string{{"Host", "api.example:8080"}})
	req := &policy.Request{ID: "rid-1"}
	b.ReportAllocs()
	for b.Loop() {
		clear(r.Header)
		for k, v := range sent {
			r.Header[k] = v
		}
		r.Host = "api.example:8080"
		*req = policy.Request{ID: "rid-1"}
		if err := c.Screen(r, req); err != nil {
			b.Fatal(err)
		}
	}
}
