package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// serve runs mw once for a request of consumer with the decision's class
// and returns the response and the error the stage returned.
func serve(t *testing.T, mw pipeline.Middleware, consumer, class string, next pipeline.HandlerFunc) (*httptest.ResponseRecorder, error) {
	t.Helper()
	var rq pipeline.Request
	doc := &input.Doc{Input: policy.Input{Request: policy.Request{ClientIP: "192.0.2.9"},
		Identity: &policy.Identity{Authenticated: true, Method: policy.MethodAPIKey, Consumer: consumer}}}
	input.Part.Bind(&rq, doc)
	authz.ResultPart.Bind(&rq, &authz.Result{Decision: &policy.Decision{Allow: true, RateLimitClass: class}})
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(pipeline.WithRequest(r.Context(), &rq))
	w := httptest.NewRecorder()
	if next == nil {
		next = func(http.ResponseWriter, *http.Request) error { return nil }
	}
	return w, mw(next).ServeHTTP(w, r)
}

func testConfig() (*config.Config, *config.Route) {
	cfg := config.Default()
	cfg.RateLimit.Classes = map[string][]config.Limit{
		"gold": {{Name: "per-consumer", Key: []string{"consumer"}, Rate: 10, Per: time.Second, Burst: 10}},
	}
	rt := &config.Route{Name: "partner", Authn: config.RouteAuthn{Methods: []string{policy.MethodAPIKey}},
		RateLimits: []config.Limit{
			{Name: "per-consumer", Key: []string{"consumer"}, Rate: 2, Per: time.Second, Burst: 2},
			{Name: "route", Key: []string{"route"}, Rate: 100, Per: time.Second, Burst: 3},
		}}
	return cfg, rt
}

func TestStage(t *testing.T) {
	t.Parallel()
	cfg, rt := testConfig()
	l, err := New(cfg, NewLocal(100, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	mw, err := l.Stage(rt)
	if err != nil || mw == nil {
		t.Fatalf("Stage: %v", err)
	}

	w, err := serve(t, mw, "acme", "", nil)
	if err != nil {
		t.Fatalf("the first request: %v", err)
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"per-consumer";q=2;w=1, "route";q=3;w=1` {
		t.Errorf("RateLimit-Policy = %s", got)
	}
	if got := w.Header().Get("RateLimit"); got != `"per-consumer";r=1;t=1, "route";r=2;t=1` {
		t.Errorf("RateLimit = %s", got)
	}
	if _, err := serve(t, mw, "acme", "", nil); err != nil {
		t.Fatalf("the second request: %v", err)
	}
	ran := false
	w, err = serve(t, mw, "acme", "", func(http.ResponseWriter, *http.Request) error { ran = true; return nil })
	p := problem.As(err)
	if p == nil || p.Status != http.StatusTooManyRequests || p.Reason != ReasonRateLimited || ran {
		t.Fatalf("the third request: %v (next ran %v)", err, ran)
	}
	if p.Header.Get("Retry-After") != "1" || w.Header().Get("RateLimit") != `"per-consumer";r=0;t=1, "route";r=0;t=1` {
		t.Errorf("Retry-After %q, RateLimit %q", p.Header.Get("Retry-After"), w.Header().Get("RateLimit"))
	}
	// The route limit (burst 3) is spent too; another consumer meets it.
	if _, err := serve(t, mw, "other", "", nil); problem.As(err) == nil {
		t.Fatal("the route-wide limit let another consumer through")
	}
	// A class replaces the route's limits: its own buckets, its own quota.
	for i := range 10 {
		w, err := serve(t, mw, "acme", "gold", nil)
		if err != nil {
			t.Fatalf("gold request %d: %v", i, err)
		}
		if got := w.Header().Get("RateLimit-Policy"); got != `"per-consumer";q=10;w=1` {
			t.Fatalf("gold RateLimit-Policy = %s", got)
		}
	}
	if _, err := serve(t, mw, "acme", "gold", nil); problem.As(err) == nil {
		t.Fatal("the gold class let an eleventh request through")
	}
	// A class the configuration lacks keeps the route's limits.
	if _, err := serve(t, mw, "acme", "platinum", nil); problem.As(err) == nil || problem.As(err).Reason != ReasonRateLimited {
		t.Fatalf("an unknown class escaped the route's limits: %v", err)
	}
}

func TestStageIsLeftOutWithoutLimits(t *testing.T) {
	t.Parallel()
	l, err := New(config.Default(), NewLocal(100, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if mw, err := l.Stage(&config.Route{Name: "r"}); mw != nil || err != nil {
		t.Fatalf("Stage = %v, %v; want nothing", mw != nil, err)
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	cfg, rt := testConfig()
	cfg.RateLimit.AuthFailures.MaxFailures = 3
	l, err := New(cfg, NewLocal(100, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	mw := l.Throttle(rt)
	badKey := func(http.ResponseWriter, *http.Request) error {
		return &authn.Failure{Err: problem.Unauthorized("api_key_invalid", "the API key is not valid", nil)}
	}
	noKey := func(http.ResponseWriter, *http.Request) error {
		return &authn.Failure{Err: problem.New(http.StatusUnauthorized, authn.ReasonMissing, "authentication is required")}
	}
	deny := func(http.ResponseWriter, *http.Request) error {
		return problem.New(http.StatusUnauthorized, authz.ReasonDeny, "denied by policy")
	}
	for range 10 { // neither a missing credential nor a policy deny counts
		for _, h := range []pipeline.HandlerFunc{noKey, deny} {
			if _, err := serve(t, mw, "", "", h); problem.As(err).Status != http.StatusUnauthorized {
				t.Fatalf("got %v, want the 401", err)
			}
		}
	}
	for i := range 3 {
		if _, err := serve(t, mw, "", "", badKey); problem.As(err).Reason != "api_key_invalid" {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	checked := false
	_, err = serve(t, mw, "", "", func(http.ResponseWriter, *http.Request) error { checked = true; return nil })
	p := problem.As(err)
	if p == nil || p.Status != http.StatusTooManyRequests || p.Reason != ReasonThrottled || checked {
		t.Fatalf("after max_failures: %v (credential checked %v)", err, checked)
	}
	if p.Header.Get("Retry-After") != "300" {
		t.Errorf("Retry-After = %q, want block_for", p.Header.Get("Retry-After"))
	}
}

func TestThrottleIsLeftOutWhenOffOrAnonymous(t *testing.T) {
	t.Parallel()
	cfg, rt := testConfig()
	l, _ := New(cfg, NewLocal(100, nil), nil)
	if l.Throttle(&config.Route{Name: "public"}) != nil {
		t.Error("a route that authenticates nobody got the throttle")
	}
	off := false
	cfg.RateLimit.AuthFailures.Enabled = &off
	l, _ = New(cfg, NewLocal(100, nil), nil)
	if l.Throttle(rt) != nil {
		t.Error("auth_failures.enabled: false left the throttle in")
	}
}

func TestAMissingClassIsWarnedAboutOnceAndBounded(t *testing.T) {
	l := &Limits{}
	if !l.firstUnknown("gold") || l.firstUnknown("gold") {
		t.Fatal("a missing class must be warned about exactly once")
	}
	for i := range 2 * maxUnknownClasses {
		l.firstUnknown(fmt.Sprint("c", i))
	}
	if len(l.unknown) != maxUnknownClasses {
		t.Fatalf("%d missing classes remembered, want at most %d", len(l.unknown), maxUnknownClasses)
	}
}
