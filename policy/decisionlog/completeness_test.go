package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// routedInput is the input of a request a route took, authenticated.
func routedInput() *policy.Input {
	return &policy.Input{
		Request: policy.Request{
			ID: "req-1", Method: "GET", Path: "/orders/42", Segments: []string{"orders", "42"},
			Host: "api.example.com", Scheme: "https", RemoteAddr: "192.0.2.7:51234",
			Headers: map[string]string{"accept": "application/json"},
		},
		Route:    policy.Route{Name: "orders"},
		Identity: &policy.Identity{Authenticated: true, Method: policy.MethodJWT, Subject: "alice"},
	}
}

// eventInput logs ev and returns its input and portcullis objects.
func eventInput(t *testing.T, opts Options, ev *Event) (in, p map[string]any, line string) {
	t.Helper()
	line = logLine(t, opts, ev)
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	in, _ = m["input"].(map[string]any)
	p, _ = m["portcullis"].(map[string]any)
	return in, p, line
}

func TestValidationIsLoggedOnlyWhenItRan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		v       policy.Validation
		present bool
	}{
		{"a route without a spec", policy.Validation{}, false},
		{"a request that ended before validation", policy.Validation{Valid: true}, false},
		{"a valid request", policy.Validation{Ran: true, Valid: true}, true},
		{"an invalid request", policy.Validation{Ran: true, Errors: []policy.ValidationError{{Name: "/email", In: "body", Reason: "format"}}}, true},
	} {
		for _, opts := range []struct {
			name string
			o    Options
		}{{"written directly", Options{}}, {"through the masking copy", Options{Erase: []string{"/input/request/headers/accept"}}}} {
			t.Run(tc.name+" "+opts.name, func(t *testing.T) {
				t.Parallel()
				in := routedInput()
				in.Validation = tc.v
				ev := goldenEvent()
				ev.Input = in
				got, _, line := eventInput(t, opts.o, ev)
				v, ok := got["validation"].(map[string]any)
				if ok != tc.present {
					t.Fatalf("validation present = %v, want %v: %s", ok, tc.present, line)
				}
				if ok && v["valid"] != tc.v.Valid {
					t.Fatalf("validation.valid = %v, want %v: %s", v["valid"], tc.v.Valid, line)
				}
			})
		}
	}
}

// TestARequestNoRouteTookIsLoggedWithItsFacts: a 404, a 431 or a rejected
// path has no policy input, but the event still says who asked for what.
func TestARequestNoRouteTookIsLoggedWithItsFacts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, raw string
	}{
		{"a 404 with its canonical path", "/nowhere", ""},
		{"a rejected path, raw", "", "/a/%2e%2e/b"},
		{"a 431 before normalization", "", "/api/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := goldenEvent()
			ev.Input = &policy.Input{Request: policy.Request{
				ID: "req-9", Method: "DELETE", Path: tc.path, Host: "Api.Example.com:8443", Scheme: "http", RemoteAddr: "198.51.100.4:4711",
				Headers: map[string]string{"x-secretish": "v"}, Query: map[string][]string{"token": {"t"}},
			}}
			ev.RawPath = tc.raw
			in, p, line := eventInput(t, Options{}, ev)
			req, _ := in["request"].(map[string]any)
			want := map[string]any{"method": "DELETE", "host": "Api.Example.com:8443", "remote_addr": "198.51.100.4:4711", "id": "req-9", "scheme": "http"}
			if tc.path != "" {
				want["path"] = tc.path
			}
			if len(req) != len(want) {
				t.Fatalf("input.request = %v, want exactly %v: %s", req, want, line)
			}
			for k, v := range want {
				if req[k] != v {
					t.Fatalf("input.request.%s = %v, want %v: %s", k, req[k], v, line)
				}
			}
			if v, ok := in["route"]; !ok || v != nil {
				t.Fatalf("input.route = %v, want null: %s", v, line)
			}
			if v, ok := in["identity"]; !ok || v != nil {
				t.Fatalf("input.identity = %v, want null: %s", v, line)
			}
			if raw, ok := p["raw_path"]; (tc.raw != "") != ok || (ok && raw != tc.raw) {
				t.Fatalf("portcullis.raw_path = %v (present %v), want %q: %s", raw, ok, tc.raw, line)
			}
		})
	}
}

func TestARawPathIsCutAtTheLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, want string
		cut             bool
	}{
		{"short", "/a", "/a", false},
		{"at the limit", "/" + strings.Repeat("a", MaxRawPath-1), "/" + strings.Repeat("a", MaxRawPath-1), false},
		{"over the limit", "/" + strings.Repeat("a", 3*MaxRawPath), "/" + strings.Repeat("a", MaxRawPath-1), true},
		{"cut inside a rune", strings.Repeat("a", MaxRawPath-1) + "é", strings.Repeat("a", MaxRawPath-1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := goldenEvent()
			ev.Input, ev.RawPath = &policy.Input{}, tc.raw
			_, p, line := eventInput(t, Options{}, ev)
			if p["raw_path"] != tc.want {
				t.Fatalf("raw_path has %d bytes, want %d", len(p["raw_path"].(string)), len(tc.want))
			}
			if _, cut := p["raw_path_truncated"]; cut != tc.cut {
				t.Fatalf("raw_path_truncated present = %v, want %v: %.200s", cut, tc.cut, line)
			}
		})
	}
}

func TestPresentedCredentialsAreLogged(t *testing.T) {
	t.Parallel()
	ev := goldenEvent()
	ev.Credentials = []Credential{{Kind: "api_key", Source: "header"}, {Kind: "bearer", Source: "cookie"}}
	for _, opts := range []Options{{}, {Masker: &fakeMasker{}}} {
		_, p, line := eventInput(t, opts, ev)
		got, _ := json.Marshal(p["credentials"])
		if string(got) != `[{"kind":"api_key","source":"header"},{"kind":"bearer","source":"cookie"}]` {
			t.Fatalf("portcullis.credentials = %s: %s", got, line)
		}
	}
	ev.Credentials = nil
	if _, p, line := eventInput(t, Options{}, ev); p["credentials"] != nil {
		t.Fatalf("credentials without any presented: %s", line)
	}
}
