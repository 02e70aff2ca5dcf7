package engine

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// needsOf is what a policy reading refs (Rego references below input)
// needs; no refs is the whole document.
func needsOf(refs ...string) *inputNeeds {
	if len(refs) == 0 {
		return nil
	}
	n := &inputNeeds{}
	for _, r := range refs {
		n.add(ast.MustParseRef(r)[1:])
	}
	return n
}

// An equal key must mean an equal input as the policy is given it: the
// decision cache answers one from the other. Generated inputs over a small
// vocabulary collide often, so every group of equal keys is checked.
func TestInputKeyIsEqualOnlyForEqualInputs(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(exampleBundle), DecisionCacheSize: 10})
	needs := map[string]*inputNeeds{
		"the whole document": nil,
		"the example policy": e.state.Load().needs,
		"some parts": needsOf("input.request.query.page", `input.request.headers["user-agent"]`, "input.route.path_params",
			"input.identity.claims.role", "input.request.body_truncated", "input.validation", "input.identity.certificate"),
		"claims whole, path": needsOf("input.identity.claims", "input.request.path", "input.request.port"),
	}
	g := newInputGen(rand.NewPCG(1, 2), nil)
	ins := make([]*policy.Input, 4000)
	for i := range ins {
		ins[i] = g.input()
	}
	for name, n := range needs {
		groups := map[string]ast.Value{}
		keyed, shared := 0, 0
		for _, in := range ins {
			k, ok := appendInputKey(nil, in, n)
			if !ok {
				continue
			}
			keyed++
			v := inputValue(unmemoized(in), n)
			first, seen := groups[string(k)]
			if !seen {
				groups[string(k)] = v
				continue
			}
			shared++
			if !sameValue(first, v) {
				t.Fatalf("%s: one key for two inputs:\n\t%v\n\t%v", name, first, v)
			}
		}
		if keyed < len(ins)/3 {
			t.Errorf("%s: only %d of %d inputs have a key", name, keyed, len(ins))
		}
		if n != nil && shared == 0 {
			t.Errorf("%s: no two inputs share a key; the test checks nothing", name)
		}
	}
}

// unmemoized is in with an identity without a Memo: the key is of the
// parts of an identity the policy reads, while a memoized identity's value
// is built whole (the policy reads the same parts of it).
func unmemoized(in *policy.Input) *policy.Input {
	if in.Identity == nil || in.Identity.Memo == nil {
		return in
	}
	out, id := *in, *in.Identity
	id.Memo = nil
	out.Identity = &id
	return &out
}

// Every part of the document changes the key of a policy that reads it
// all, also those the generated inputs never vary.
func TestInputKeyChangesWithEveryPart(t *testing.T) {
	t.Parallel()
	withCert := func(in *policy.Input) *policy.Certificate {
		c := &policy.Certificate{Subject: "CN=a", Issuer: "CN=ca", Serial: "01", FingerprintSHA256: "sha256:00",
			DNSNames: []string{"a.example"}, URIs: []string{"spiffe://a"}, Emails: []string{"a@example.com"}, NotAfter: time.Unix(2e9, 0)}
		in.Identity.Certificate = c
		return c
	}
	changes := map[string]func(in *policy.Input){
		"request id":        func(in *policy.Input) { in.Request.ID = "req-2" },
		"method":            func(in *policy.Input) { in.Request.Method = "POST" },
		"wire method":       func(in *policy.Input) { in.Request.WireMethod = "POST" },
		"path":              func(in *policy.Input) { in.Request.Path = "/api/v1/orders" },
		"segment":           func(in *policy.Input) { in.Request.Segments[2] = "orders" },
		"segments joined":   func(in *policy.Input) { in.Request.Segments = []string{"api", "v1users"} },
		"host":              func(in *policy.Input) { in.Request.Host = "b.example.com" },
		"port":              func(in *policy.Input) { in.Request.Port = 8443 },
		"scheme":            func(in *policy.Input) { in.Request.Scheme = "http" },
		"query value":       func(in *policy.Input) { in.Request.Query["page"] = []string{"3"} },
		"query values":      func(in *policy.Input) { in.Request.Query["page"] = []string{"2", "2"} },
		"query name":        func(in *policy.Input) { in.Request.Query = map[string][]string{"pag": {"e2"}} },
		"header value":      func(in *policy.Input) { in.Request.Headers["accept"] = "text/html" },
		"header gone":       func(in *policy.Input) { delete(in.Request.Headers, "accept") },
		"remote addr":       func(in *policy.Input) { in.Request.RemoteAddr = "192.0.2.7:51235" },
		"client ip":         func(in *policy.Input) { in.Request.ClientIP = "192.0.2.8" },
		"body truncated":    func(in *policy.Input) { in.Request.BodyTruncated = true },
		"route name":        func(in *policy.Input) { in.Route.Name = "orders" },
		"operation id":      func(in *policy.Input) { in.Route.OperationID = "getUser" },
		"path param":        func(in *policy.Input) { in.Route.PathParams = map[string]string{"id": "1"} },
		"tag":               func(in *policy.Input) { in.Route.Tags = []string{"users", "admin"} },
		"unauthenticated":   func(in *policy.Input) { in.Identity.Authenticated = false },
		"identity method":   func(in *policy.Input) { in.Identity.Method = policy.MethodAPIKey },
		"subject":           func(in *policy.Input) { in.Identity.Subject = "bob" },
		"issuer":            func(in *policy.Input) { in.Identity.Issuer = "https://other.example.com" },
		"consumer":          func(in *policy.Input) { in.Identity.Consumer = "partner" },
		"key id":            func(in *policy.Input) { in.Identity.KeyID = "k2" },
		"group":             func(in *policy.Input) { in.Identity.Groups = []string{"admin-group"} },
		"scope":             func(in *policy.Input) { in.Identity.Scopes = nil },
		"claim":             func(in *policy.Input) { in.Identity.Claims["role"] = "admin" },
		"claim type":        func(in *policy.Input) { in.Identity.Claims["exp"] = json.Number("1700000000") },
		"number as written": func(in *policy.Input) { in.Identity.Claims["n"] = json.Number("1.0") },
		"nested claim":      func(in *policy.Input) { in.Identity.Claims["org"] = map[string]any{"id": []any{"2"}} },
		"no identity":       func(in *policy.Input) { in.Identity = nil },
		"certificate":       func(in *policy.Input) { withCert(in) },
		"certificate SAN":   func(in *policy.Input) { withCert(in).DNSNames = []string{"b.example"} },
		"certificate end":   func(in *policy.Input) { withCert(in).NotAfter = time.Unix(2e9+1, 0) },
		"not validated":     func(in *policy.Input) { in.Validation = policy.Validation{} },
		"invalid": func(in *policy.Input) {
			in.Validation = policy.Validation{Ran: true, Errors: []policy.ValidationError{{Name: "/a", In: "body", Reason: "x"}}}
		},
	}
	base := func() *policy.Input {
		in := typicalInput()
		in.Identity.Claims["n"] = json.Number("1")
		in.Identity.Claims["org"] = map[string]any{"id": []any{"1"}}
		return in
	}
	want, ok := appendInputKey(nil, base(), nil)
	if !ok {
		t.Fatal("the typical input has no key")
	}
	if again, _ := appendInputKey(nil, base(), nil); string(again) != string(want) {
		t.Fatal("one input, two keys")
	}
	for name, change := range changes {
		in := base()
		change(in)
		got, ok := appendInputKey(nil, in, nil)
		if ok && string(got) == string(want) {
			t.Errorf("%s: the key did not change", name)
		}
	}
}

// A part the key does not cover goes the way of the OPA value.
func TestInputKeyLeavesOutWhatItDoesNotCover(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]*policy.Input{
		"OPA-Envoy fields":        {OPAEnvoy: true},
		"a parsed body":           {Request: policy.Request{Body: map[string]any{"a": 1.0}}},
		"a claim of another type": {Identity: &policy.Identity{Claims: map[string]any{"t": time.Now()}}},
	} {
		if _, ok := appendInputKey(nil, in, needsOf("input.request.body", "input.identity.claims", "input.attributes")); ok {
			t.Errorf("%s: keyed", name)
		}
	}
}
