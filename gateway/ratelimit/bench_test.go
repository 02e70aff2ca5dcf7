package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

// benchServe runs mw for one allowed request per iteration.
func benchServe(b *testing.B, mw pipeline.Middleware) {
	var rq pipeline.Request
	doc := &input.Doc{Input: policy.Input{Request: policy.Request{ClientIP: "192.0.2.9"},
		Identity: &policy.Identity{Authenticated: true, Method: policy.MethodAPIKey, Consumer: "acme"}}}
	input.Part.Bind(&rq, doc)
	authz.ResultPart.Bind(&rq, &authz.Result{Decision: &policy.Decision{Allow: true}})
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(pipeline.WithRequest(r.Context(), &rq))
	h := mw(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStage is one request through a per-consumer local limit that
// never refuses, with its two response headers.
func BenchmarkStage(b *testing.B) {
	cfg, rt := testConfig()
	rt.RateLimits = rt.RateLimits[:1]
	rt.RateLimits[0].Rate, rt.RateLimits[0].Burst = 1_000_000_000, 1_000_000_000
	l, err := New(cfg, NewLocal(100000, nil), nil)
	if err != nil {
		b.Fatal(err)
	}
	mw, err := l.Stage(rt)
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, mw)
}

// BenchmarkThrottle is the credential-stuffing check of a request whose
// address is not blocked: what auth_failures (on by default) costs.
func BenchmarkThrottle(b *testing.B) {
	cfg, rt := testConfig()
	l, err := New(cfg, NewLocal(100000, nil), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, l.Throttle(rt))
}
