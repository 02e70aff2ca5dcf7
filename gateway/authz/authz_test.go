package authz

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/engine"
)

func newEngine(t *testing.T, path string) *engine.Engine {
	t.Helper()
	d := config.Default()
	e, err := engine.New(context.Background(), engine.Options{Sources: []bundle.Source{{Path: path}}, Timeout: 10 * time.Second,
		Query: d.Policy.Decision, MaskRule: d.DecisionLog.MaskRule, DropRule: d.DecisionLog.DropRule, MaxBundleBytes: int64(d.Policy.MaxBundleBytes)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// customBundle is a bundle whose decision rule is rule.
func customBundle(t *testing.T, rule string) string {
	t.Helper()
	dir := t.TempDir()
	for name, s := range map[string]string{
		".manifest":  `{"revision": "t", "roots": ["portcullis"]}`,
		"authz.rego": "package portcullis.authz\n\n" + rule + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func identity(method string, groups ...string) *policy.Identity {
	if method == policy.MethodAnonymous {
		return policy.Anonymous()
	}
	return &policy.Identity{Authenticated: true, Method: method, Subject: "s", Groups: groups, Claims: map[string]any{}}
}

func TestStage(t *testing.T) {
	t.Parallel()
	example := newEngine(t, "../../bundles/portcullis")
	tests := []struct {
		name       string
		eng        *engine.Engine
		route      config.Route
		method     string
		path       string
		id         *policy.Identity
		wantStatus int // 0: next ran
		wantReason problem.Reason
		check      func(t *testing.T, st *testState, rec *httptest.ResponseRecorder, err error)
	}{
		{name: "the read key may GET", eng: example, method: "GET", path: "/api/v1/users", id: identity(policy.MethodAPIKey, "read-access"), wantReason: ReasonAllow},
		{name: "the read key POSTing gets 403", eng: example, method: "POST", path: "/api/v1/users", id: identity(policy.MethodAPIKey, "read-access"), wantStatus: 403, wantReason: ReasonDeny,
			check: func(t *testing.T, st *testState, _ *httptest.ResponseRecorder, _ error) {
				if !slices.Contains(st.Decision.Reasons, "read_only_consumer") {
					t.Errorf("reasons = %v", st.Decision.Reasons)
				}
			}},
		{name: "the full key may POST", eng: example, method: "POST", path: "/api/v1/users", id: identity(policy.MethodAPIKey, "full-access"), wantReason: ReasonAllow},
		{name: "anonymous on a protected route gets 401 with a challenge", eng: example, method: "GET", path: "/api/v1/users", id: identity(policy.MethodAnonymous), wantStatus: 401, wantReason: ReasonDeny,
			check: func(t *testing.T, _ *testState, _ *httptest.ResponseRecorder, err error) {
				if p := problem.As(err); p == nil || p.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("problem = %v", err)
				}
			}},
		{name: "a nil identity counts as anonymous", eng: example, method: "GET", path: "/api/v1/users", wantStatus: 401, wantReason: ReasonDeny},
		{name: "anonymous on the public route is allowed", eng: example, route: config.Route{Name: "public"}, method: "GET", path: "/status", id: identity(policy.MethodAnonymous), wantReason: ReasonAllow},
		{name: "a user token is refused the admin API", eng: example, method: "GET", path: "/api/v1/admin/x", id: identity(policy.MethodJWT, "user-group"), wantStatus: 403, wantReason: ReasonDeny},
		{name: "decision headers reach the upstream and the client", method: "GET", path: "/x", id: identity(policy.MethodJWT),
			eng:        newEngine(t, customBundle(t, `decision := {"allowed": true, "headers": {"X-Subject": "s"}, "request_headers_to_remove": ["X-Internal"], "response_headers_to_add": {"X-Policy": "v1"}}`)),
			wantReason: ReasonAllow,
			check: func(t *testing.T, st *testState, rec *httptest.ResponseRecorder, _ error) {
				if st.SetHeaders.Get("X-Subject") != "s" || !slices.Contains(st.DelHeaders, "X-Internal") || rec.Header().Get("X-Policy") != "v1" {
					t.Errorf("set %v, del %v, response %v", st.SetHeaders, st.DelHeaders, rec.Header())
				}
			}},
		{name: "a policy-chosen status and response headers are used on deny", method: "GET", path: "/x", id: identity(policy.MethodAnonymous),
			eng:        newEngine(t, customBundle(t, `decision := {"allow": false, "status": 429, "response_headers": {"Retry-After": "5"}, "reasons": ["secret internal reason"]}`)),
			wantStatus: 429, wantReason: ReasonDeny,
			check: func(t *testing.T, _ *testState, rec *httptest.ResponseRecorder, err error) {
				p := problem.As(err)
				if rec.Header().Get("Retry-After") != "5" || p.Detail != "denied by policy" || p.Header.Get("WWW-Authenticate") != "" {
					t.Errorf("response headers %v, problem %+v", rec.Header(), p)
				}
			}},
		{name: "an undefined decision is a deny not a 500", method: "GET", path: "/x", id: identity(policy.MethodJWT),
			eng:        newEngine(t, customBundle(t, `decision := true if input.nope`)),
			wantStatus: 403, wantReason: engine.ReasonUndefined},
		{name: "an invalid result is a deny not a 500", method: "GET", path: "/x", id: identity(policy.MethodJWT),
			eng:        newEngine(t, customBundle(t, `decision := {"allow": true, "status": 500}`)),
			wantStatus: 403, wantReason: engine.ReasonInvalidResult},
		{name: "an opa-envoy route gets parsed_path", method: "GET", path: "/a/b", id: identity(policy.MethodJWT), route: config.Route{Policy: config.RoutePolicy{InputCompat: "opa-envoy"}},
			eng:        newEngine(t, customBundle(t, `decision := {"allowed": input.parsed_path == ["a", "b"]}`)),
			wantReason: ReasonAllow},
		{name: "a plain route has no opa-envoy fields", method: "GET", path: "/a/b", id: identity(policy.MethodJWT),
			eng:        newEngine(t, customBundle(t, `decision := {"allowed": input.parsed_path == ["a", "b"]}`)),
			wantStatus: 403, wantReason: engine.ReasonUndefined},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mw, err := New(tc.eng, &tc.route)
			if err != nil {
				t.Fatal(err)
			}
			var ran bool
			h := pipeline.Chain(pipeline.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				ran = true
				w.WriteHeader(http.StatusOK)
				return nil
			}), mw)

			st := newTestState(policy.Input{
				Request:  policy.Request{Method: tc.method, Path: tc.path, Segments: segments(tc.path)},
				Route:    policy.Route{Name: tc.route.Name},
				Identity: tc.id,
			})
			req := httptest.NewRequest(tc.method, "http://gw"+tc.path, nil)
			req = st.with(req)
			rec := httptest.NewRecorder()
			err = h.ServeHTTP(rec, req)
			st.done(err)

			if tc.wantStatus == 0 {
				if err != nil || !ran {
					t.Fatalf("next ran %v, err %v", ran, err)
				}
			} else {
				p := problem.As(err)
				if ran || p == nil || p.Status != tc.wantStatus || p.Reason != tc.wantReason {
					t.Fatalf("next ran %v, err %v; want %d %s", ran, err, tc.wantStatus, tc.wantReason)
				}
			}
			if st.Reason != tc.wantReason || st.Decision == nil {
				t.Errorf("state reason %q, decision %v", st.Reason, st.Decision)
			}
			if tc.check != nil {
				tc.check(t, st, rec, err)
			}
		})
	}
}

func segments(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}
