package decisionlog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
)

// TestAppendInputWritesTheEvaluatedDocument wants the logged input, written
// from the Go values, to be byte for byte the document the engine builds
// for evaluation, encoded as before (engine.InputValue, then appendAST).
func TestAppendInputWritesTheEvaluatedDocument(t *testing.T) {
	t.Parallel()
	jwtUser := &policy.Identity{
		Authenticated: true, Method: policy.MethodJWT, Subject: "alice", Issuer: "https://issuer.example",
		Groups: []string{"user-group", "ops"}, Scopes: []string{"users:read"}, KeyID: "k1",
		Claims: map[string]any{
			"sub": "alice", "exp": 1.8934998e+09, "iat": float64(1700000000), "aud": []any{"api", "web"},
			"role": "user", "nested": map[string]any{"n": json.Number("12.50"), "ok": true, "none": nil},
			"note": "quote \" backslash \\ tab \t ünïcödé <script>",
			"tags": []string{"<b>", "a&b"},
		},
	}
	certService := &policy.Identity{
		Authenticated: true, Method: policy.MethodClientCert, Subject: "billing", Consumer: "billing", Groups: []string{"services"},
		KeyID: "spiffe://prod.example/billing",
		Certificate: &policy.Certificate{
			Subject: "CN=billing,O=Example \"Q\"", Issuer: "CN=Example CA", Serial: "1f", FingerprintSHA256: "sha256:00ff",
			DNSNames: []string{"billing.internal"}, URIs: []string{"spiffe://prod.example/billing"},
			NotAfter: time.Date(2027, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		},
	}
	get := policy.Request{
		ID: "req-1", Method: "GET", WireMethod: "GET", Port: 443, Path: "/api/v1/users", Segments: []string{"api", "v1", "users"},
		Host: "api.example.com", Scheme: "https", Query: map[string][]string{"page": {"2"}, "tag": {"b", "a"}},
		Headers:    map[string]string{"accept": "application/json", "user-agent": "curl/8.5", "x-multi": "a, b"},
		RemoteAddr: "192.0.2.7:51234",
	}
	post := get
	post.Method, post.Query = "POST", nil
	post.Body = map[string]any{"name": "Ada", "age": json.Number("36"), "tags": []any{"x", 1.5}, "address": map[string]any{}}
	post.RawBody = []byte(`{"name":"Ada","age":36,"tags":["x",1.5],"address":{}}`)
	truncated := get
	truncated.BodyTruncated = true
	noPort := get
	noPort.RemoteAddr, noPort.Query = "@", nil
	route := policy.Route{Name: "users-api", OperationID: "listUsers", PathParams: map[string]string{"id": "7"}, Tags: []string{"users", "public"}}
	invalid := policy.Validation{Errors: []policy.ValidationError{{Name: "/email", In: "body", Reason: "format"}, {Name: "page", In: "query", Reason: "type"}}}
	tests := []struct {
		name string
		in   policy.Input
	}{
		{"a JWT user's GET", policy.Input{Request: get, Route: route, Identity: jwtUser, Validation: policy.Validation{Valid: true}}},
		{"a client certificate's identity", policy.Input{Request: get, Route: route, Identity: certService, Validation: policy.Validation{Valid: true}}},
		{"an anonymous request without claims", policy.Input{Request: get, Route: policy.Route{Name: "public"}, Identity: policy.Anonymous(), Validation: policy.Validation{Valid: true}}},
		{"a POST with its body and validation errors", policy.Input{Request: post, Route: route, Identity: jwtUser, Validation: invalid}},
		{"a body the route asked for but could not get", policy.Input{Request: truncated, Route: route, Identity: jwtUser, Validation: policy.Validation{Valid: true}}},
		{"OPA-Envoy fields of a GET with a query", policy.Input{Request: get, Route: route, Identity: jwtUser, Validation: policy.Validation{Valid: true}, OPAEnvoy: true}},
		{"OPA-Envoy fields of a POST", policy.Input{Request: post, Route: route, Identity: jwtUser, Validation: invalid, OPAEnvoy: true}},
		{"OPA-Envoy fields of a remote address without a port", policy.Input{Request: noPort, Route: route, Identity: jwtUser, OPAEnvoy: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := appendAST(nil, engine.InputValue(&tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendInput(nil, &tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("logged input\n%s\nbut the engine evaluates\n%s", got, want)
			}
			checkCachedClaims(t, &tc.in, want)
		})
	}
}

// checkCachedClaims wants in, its identity given a cached token's identity
// cell, logged as want both by the event that fills the cell and by the
// next, which reads it.
func checkCachedClaims(t *testing.T, in *policy.Input, want []byte) {
	t.Helper()
	if in.Identity == nil {
		return
	}
	cached := *in
	id := *in.Identity
	id.JSON = new(policy.Encoded)
	cached.Identity = &id
	for _, event := range []string{"first", "second"} {
		got, err := appendInput(nil, &cached)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s event with cached claims logged input\n%s\nwant\n%s", event, got, want)
		}
	}
}

func TestAppendInputWritesNoIdentityAsNull(t *testing.T) {
	t.Parallel()
	b, err := appendInput(nil, &policy.Input{Request: policy.Request{Method: "POST", Path: "/x"}, Route: policy.Route{Name: "r"}})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if v, ok := doc["identity"]; !ok || v != nil {
		t.Fatalf("identity = %v (present %v), want null: %s", v, ok, b)
	}
}

// TestMaskingAGoInput: the Masker and the erase pointers see, and change,
// the document as it is written, not the Go struct.
func TestMaskingAGoInput(t *testing.T) {
	t.Parallel()
	in := &policy.Input{
		Request:  policy.Request{Method: "POST", Path: "/orders", Headers: map[string]string{"x-card": "4111"}},
		Route:    policy.Route{Name: "orders"},
		Identity: &policy.Identity{Authenticated: true, Method: policy.MethodJWT, Subject: "alice"},
	}
	m := &fakeMasker{ops: []policy.MaskOp{{Op: "upsert", Path: "/input/identity/subject", Value: "***"}}}
	ev := goldenEvent()
	ev.Input = in
	got := logOne(t, Options{Masker: m, Erase: []string{"/input/request/headers/x-card"}}, ev)
	m.mu.Lock()
	seen, _ := m.seen["input"].(map[string]any)
	m.mu.Unlock()
	if req, _ := seen["request"].(map[string]any); req["method"] != "POST" {
		t.Fatalf("the masker saw input %v, want the input document", seen)
	}
	logged, _ := got["input"].(map[string]any)
	id, _ := logged["identity"].(map[string]any)
	headers, _ := logged["request"].(map[string]any)["headers"].(map[string]any)
	if id["subject"] != "***" || headers["x-card"] != nil {
		t.Fatalf("logged input %v: want the subject masked and x-card erased", logged)
	}
	if in.Identity.Subject != "alice" || in.Request.Headers["x-card"] != "4111" {
		t.Fatal("masking changed the request's own input")
	}
}

// FuzzAppendInput wants the logged input and the engine's document to stay
// byte-identical for any request, body and claims.
func FuzzAppendInput(f *testing.F) {
	f.Add("GET", "/api/v1/users", "page", "2", "user-agent", "curl/8", `{"a":[1,2,{"b":null}]}`, "192.0.2.1:80", true)
	f.Add("POST", "/", "", "", "", "", `"str"`, "[::1]:9", false)
	f.Add("X", "/%2F/..", "k\x00", "\r\n", "\xff", "\u2028", `[1e400, -0.0, 1E+2]`, "bad", true)
	f.Fuzz(func(t *testing.T, method, path, qk, qv, hk, hv, body, remote string, envoy bool) {
		in := &policy.Input{
			Request: policy.Request{
				ID: "r", Method: method, Path: path, Segments: strings.Split(path, "/"), RemoteAddr: remote,
				Query: map[string][]string{qk: {qv, hv}}, Headers: map[string]string{hk: hv, "accept": qv},
				RawBody: []byte(body),
			},
			Route:      policy.Route{Name: method, Tags: []string{hk}},
			Identity:   &policy.Identity{Authenticated: true, Method: policy.MethodJWT, Subject: hv, Groups: []string{qk}},
			Validation: policy.Validation{Errors: []policy.ValidationError{{Name: qk, In: "query", Reason: qv}}},
			OPAEnvoy:   envoy,
		}
		var parsed any
		d := json.NewDecoder(strings.NewReader(body))
		d.UseNumber()
		if d.Decode(&parsed) == nil {
			in.Request.Body = parsed
			in.Identity.Claims = map[string]any{hk: parsed, "n": 1.5e300}
		}
		want, err := appendAST(nil, engine.InputValue(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendInput(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("logged input\n%s\nbut the engine evaluates\n%s", got, want)
		}
		checkCachedClaims(t, in, want)
	})
}

// TestCachedClaimsNeverBypassErasingOrMasking: erase pointers and mask
// rules apply to claims whose JSON a cached token's identity already
// holds, and the held JSON stays the unmasked identity for the next event.
func TestCachedClaimsNeverBypassErasingOrMasking(t *testing.T) {
	t.Parallel()
	id := &policy.Identity{
		Authenticated: true, Method: policy.MethodJWT, Subject: "alice", JSON: new(policy.Encoded),
		Claims: map[string]any{"sub": "alice", "email": "alice@example.com", "ssn": "078-05-1120", "role": "buyer"},
	}
	in := &policy.Input{Request: policy.Request{Method: "GET", Path: "/orders"}, Route: policy.Route{Name: "orders"}, Identity: id}
	ev := goldenEvent()
	ev.Input = in
	if line := logLine(t, Options{}, ev); !strings.Contains(line, "alice@example.com") { // fills the cell
		t.Fatalf("unmasked event lacks the claim: %s", line)
	}
	tests := []struct {
		name string
		opts Options
		gone []string
	}{
		{"an erase pointer", Options{Erase: []string{"/input/identity/claims/email"}}, []string{"alice@example.com"}},
		{"a mask rule's remove and upsert", Options{Masker: &fakeMasker{ops: []policy.MaskOp{
			{Op: "remove", Path: "/input/identity/claims/ssn"},
			{Op: "upsert", Path: "/input/identity/claims/email", Value: "***"},
		}}}, []string{"078-05-1120", "alice@example.com"}},
		{"both", Options{Erase: []string{"/input/identity/claims/ssn"}, Masker: &fakeMasker{ops: []policy.MaskOp{
			{Op: "remove", Path: "/input/identity/claims/email"},
		}}}, []string{"078-05-1120", "alice@example.com"}},
		{"a failing mask rule", Options{Masker: &fakeMasker{err: errors.New("mask broke")}}, []string{"078-05-1120", "alice@example.com", "buyer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // not parallel: the held JSON is checked after them
			line := logLine(t, tc.opts, ev)
			for _, v := range tc.gone {
				if strings.Contains(line, v) {
					t.Errorf("event has %q: %s", v, line)
				}
			}
			if !strings.Contains(line, `"/input`) {
				t.Errorf("event records nothing erased or masked: %s", line)
			}
		})
	}
	held, err := id.JSON.Get(func() ([]byte, error) { return nil, errors.New("not filled") })
	if err != nil || !strings.Contains(string(held), "078-05-1120") || !strings.Contains(string(held), "alice@example.com") {
		t.Fatalf("held claims JSON %q (%v): want the identity unmasked", held, err)
	}
}
