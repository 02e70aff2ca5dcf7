package authz

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

func TestInputBody(t *testing.T) {
	t.Parallel()
	// The policy allows only when it sees the body's name, so a body that
	// does not reach the input is a 403.
	eng := newEngine(t, customBundle(t, `decision := {"allow": input.request.body.name == "alice"}`))
	withBody := config.Route{Policy: config.RoutePolicy{InputBody: true}}
	tests := []struct {
		name          string
		route         config.Route
		contentType   string
		body          string
		read          bool
		wantAllow     bool
		wantBody      any
		wantTruncated bool
		wantRaw       string
	}{
		{name: "a JSON body reaches the policy on a route that asks for it", route: withBody, contentType: "application/json", body: `{"name": "alice"}`, read: true,
			wantAllow: true, wantBody: map[string]any{"name": "alice"}},
		{name: "a +json body is JSON too", route: withBody, contentType: "application/merge-patch+json; charset=utf-8", body: `{"name": "alice"}`, read: true,
			wantAllow: true, wantBody: map[string]any{"name": "alice"}},
		{name: "a route that does not ask keeps the body out", contentType: "application/json", body: `{"name": "alice"}`, read: true},
		{name: "a body that is not JSON is marked truncated", route: withBody, contentType: "text/plain", body: `{"name": "alice"}`, read: true, wantTruncated: true},
		{name: "a large integer reaches the policy exactly", route: withBody, contentType: "application/json", body: `{"name": "alice", "id": 9007199254740993}`, read: true,
			wantAllow: true, wantBody: map[string]any{"name": "alice", "id": json.Number("9007199254740993")}},
		{name: "two JSON documents are marked truncated", route: withBody, contentType: "application/json", body: `{"name": "alice"} {}`, read: true, wantTruncated: true},
		{name: "malformed JSON is marked truncated", route: withBody, contentType: "application/json", body: `{"name": `, read: true, wantTruncated: true},
		{name: "a body that was not read is marked truncated", route: withBody, contentType: "application/json", body: `{"name": "alice"}`, wantTruncated: true},
		{name: "an empty body is neither there nor truncated", route: withBody, contentType: "application/json", read: true},
		{name: "an opa-envoy route also gets the raw body",
			route:       config.Route{Policy: config.RoutePolicy{InputBody: true, InputCompat: "opa-envoy"}},
			contentType: "application/json", body: `{"name": "alice"}`, read: true,
			wantAllow: true, wantBody: map[string]any{"name": "alice"}, wantRaw: `{"name": "alice"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mw, err := New(eng, &tc.route)
			if err != nil {
				t.Fatal(err)
			}
			h := pipeline.Chain(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }), mw)
			st := newTestState(policy.Input{
				Request:  policy.Request{Method: "POST", Path: "/x", Segments: []string{"x"}},
				Identity: identity(policy.MethodJWT),
			})
			if tc.read {
				st.Body, st.BodyRead = []byte(tc.body), true
			}
			req := httptest.NewRequest("POST", "http://gw/x", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			req = st.with(req)
			err = h.ServeHTTP(httptest.NewRecorder(), req)
			if (err == nil) != tc.wantAllow {
				t.Fatalf("allowed = %v, want %v (err %v)", err == nil, tc.wantAllow, err)
			}
			in := st.Input.Request
			if !reflect.DeepEqual(in.Body, tc.wantBody) || in.BodyTruncated != tc.wantTruncated || string(in.RawBody) != tc.wantRaw {
				t.Fatalf("body %v truncated %v raw %q", in.Body, in.BodyTruncated, in.RawBody)
			}
		})
	}
}
