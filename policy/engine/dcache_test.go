package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/policy"
)

func TestDecisionCacheIsOnlyForPoliciesThatAreFunctionsOfTheirInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		size         int
		want         string // Status().DecisionCache, or a part of it
	}{
		{"role, groups, method and path", `decision if {
	input.identity.groups[_] == "user-group"
	input.request.method == "GET"
	input.request.segments[2] == "users"
}`, 10, "on"},
		{"the cache switched off", "decision := true", 0, "off: disabled"},
		{"the clock", "decision if time.now_ns() > 0", 10, "time.now_ns"},
		{"a call nested in a comprehension", `decision if count([x | x := rand.intn("k", 10)]) > 0`, 10, "rand.intn"},
		{"a call in a helper function", `f(u) := http.send({"method": "GET", "url": u})
decision if f("http://127.0.0.1:1").status_code == 200`, 10, "http.send"},
		{"a token check that reads the clock", `decision if {
	[ok, _, _] := io.jwt.decode_verify(input.request.headers.token, {"secret": "s"})
	ok
}`, 10, "io.jwt.decode_verify"},
		{"a uuid", `decision if uuid.rfc4122("x") != ""`, 10, "uuid.rfc4122"},
		{"a certificate chain verified at the current time", `decision if {
	[ok, _] := crypto.x509.parse_and_verify_certificates(input.request.headers["x-client-cert"])
	ok
}`, 10, "crypto.x509.parse_and_verify_certificates"},
		{"a call in a rule head", `s contains time.now_ns() if true
decision if count(s) > 0`, 10, "time.now_ns"},
		{"a call as an argument", `decision if count(sprintf("%d", [time.now_ns()])) > 0`, 10, "time.now_ns"},
		{"a call in an every domain", `decision if every x in [time.now_ns()] { x > 0 }`, 10, "time.now_ns"},
		{"a call in a with value", `decision if input.x == 1 with input.x as rand.intn("k", 2)`, 10, "rand.intn"},
		{"a call in an else value", `decision := false if input.x == 1
else := rand.intn("k", 2) == 0`, 10, "rand.intn"},
		{"a call in an object comprehension key", `decision if count({k: 1 | k := uuid.rfc4122("a")}) == 1`, 10, "uuid.rfc4122"},
		{"a call as a default-less function's value", `f := time.now_ns()
decision if f > 0`, 10, "time.now_ns"},
		{"the request id", `decision if input.request.id != ""`, 10, "request id"},
		{"the OPA-Envoy request id", `decision if input.attributes.request.http.id != ""`, 10, "request id"},
		{"the whole input", `decision if count(input) > 0`, 10, "request id"},
		{"the whole request, by a computed key", `decision if {
	some k
	input.request[k] == "x"
}`, 10, "request id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, Options{Sources: sources(authzBundle(t, "r", tc.policy)), DecisionCacheSize: tc.size})
			if got := e.Status().DecisionCache; !strings.Contains(got, tc.want) || (tc.want != "on") == (got == "on") {
				t.Fatalf("decision cache %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecisionCacheAnswersWhatEvaluationWould(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	e := newEngine(t, Options{Sources: sources(exampleBundle), DecisionCacheSize: 100, Registerer: reg})
	if st := e.Status().DecisionCache; st != "on" {
		t.Fatalf("the example policy's decisions are not cached: %s", st)
	}
	cached := func(result string) float64 {
		return resultCount(t, reg, "portcullis_policy_decision_cache_total", result)
	}
	bob := func(in *policy.Input) { // another user, same role: the policy reads neither id nor subject
		in.Request.ID, in.Identity.Subject, in.Identity.Claims["sub"] = "req-2", "bob", "bob"
	}
	admin := func(in *policy.Input) { in.Request.Segments[2] = "admin" }
	steps := []struct {
		name   string
		change func(*policy.Input)
		allow  bool
		hits   float64
	}{
		{"first request: evaluated", nil, true, 0},
		{"the same again: cached", nil, true, 1},
		{"another user with the same role: cached", bob, true, 2},
		{"the admin API: evaluated, denied", admin, false, 2},
		{"the admin API again: cached, still denied", admin, false, 3},
	}
	for _, s := range steps {
		in := typicalInput()
		if s.change != nil {
			s.change(in)
		}
		d := e.Evaluate(context.Background(), in)
		if d.Allow != s.allow || d.Err != nil || cached("hit") != s.hits {
			t.Fatalf("%s: allow %v (err %v), %v hits; want allow %v, %v hits", s.name, d.Allow, d.Err, cached("hit"), s.allow, s.hits)
		}
		if want := e.EvaluateValue(context.Background(), InputValue(in)); want.Allow != d.Allow || !slices.Equal(want.Reasons, d.Reasons) {
			t.Fatalf("%s: cached %+v, evaluation gives %+v", s.name, d, want)
		}
	}
	if m := cached("miss"); m != 2 {
		t.Fatalf("%v misses, want 2", m)
	}
}

func TestDecisionCacheKeepsNoFailure(t *testing.T) {
	t.Parallel()
	// Two values for one complete rule: an evaluation error on every request.
	reg := prometheus.NewPedanticRegistry()
	e := newEngine(t, Options{Sources: sources(authzBundle(t, "r", `decision := true if input.request.method == "GET"
decision := false if input.request.path != ""`)), DecisionCacheSize: 10, Registerer: reg})
	for range 2 {
		if d := e.Evaluate(context.Background(), typicalInput()); d.Err == nil || d.Allow {
			t.Fatalf("got %+v, want an evaluation error", d)
		}
	}
	if h := resultCount(t, reg, "portcullis_policy_decision_cache_total", "hit"); h != 0 {
		t.Fatalf("a failed evaluation was replayed from the cache (%v hits)", h)
	}
}

func TestDecisionCacheConfirmsAHitByTheInputItself(t *testing.T) {
	t.Parallel()
	dc, off := newDecisionCache(ast.NewCompiler(), &inputNeeds{}, 10)
	if dc == nil {
		t.Fatal(off)
	}
	a, b := ast.MustParseTerm(`{"role": "admin"}`).Value, ast.MustParseTerm(`{"role": "user"}`).Value
	// b's slot holds a's decision, as a hash collision would leave it.
	dc.entries.Add(b.Hash(), &cachedDecision{input: a, d: &policy.Decision{Allow: true}})
	if d := dc.get(b); d != nil {
		t.Fatalf("a colliding entry answered for another input: %+v", d)
	}
	if d := dc.get(ast.MustParseTerm(`{"role": "admin"}`).Value); d != nil {
		t.Fatal("an entry answered from another input's slot")
	}
	dc.put(a, &policy.Decision{Allow: true})
	if d := dc.get(ast.MustParseTerm(`{"role": "admin"}`).Value); d == nil || !d.Allow {
		t.Fatal("an equal input missed")
	}
}

func TestSameValueTellsNumbersApartAsWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"n": 1, "s": ["x", {"y": null}], "t": true}`, `{"t": true, "s": ["x", {"y": null}], "n": 1}`, true},
		{`{"n": 1}`, `{"n": 1.0}`, false}, // json.marshal tells them apart
		{`[1e2]`, `[100]`, false},
		{`{"n": 1}`, `{"n": 1, "m": 2}`, false},
		{`{"n": 1, "m": 2}`, `{"n": 1, "o": 2}`, false},
		{`["a", "b"]`, `["b", "a"]`, false},
		{`["a"]`, `["a", "a"]`, false},
		{`{"a": "1"}`, `{"a": 1}`, false},
		{`{"a": []}`, `{"a": {}}`, false},
		{`null`, `false`, false},
	}
	for _, tc := range tests {
		a, b := ast.MustParseTerm(tc.a).Value, ast.MustParseTerm(tc.b).Value
		if got := sameValue(a, b); got != tc.want {
			t.Errorf("sameValue(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := sameValue(b, a); got != tc.want {
			t.Errorf("sameValue(%s, %s) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestDecisionCacheUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(exampleBundle), DecisionCacheSize: 2}) // evictions too
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				in := typicalInput()
				segment := []string{"users", "admin", "orders"}[(g+i)%3]
				in.Request.Segments[2] = segment
				if d := e.Evaluate(context.Background(), in); d.Allow == (segment == "admin") || d.Err != nil {
					errs <- fmt.Sprintf("%s: allow %v, err %v", segment, d.Allow, d.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func TestDecisionCacheKeyOfAnOPAEnvoyPolicyLeavesOutIdAndPort(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	e := newEngine(t, Options{Sources: sources(authzBundle(t, "r", `decision if {
	input.attributes.request.http.method == "GET"
	input.attributes.source.address.socketAddress.address == "192.0.2.7"
}`)), DecisionCacheSize: 10, Registerer: reg})
	for i, port := range []string{"51234", "51999"} {
		in := typicalInput()
		in.OPAEnvoy = true
		in.Request.ID, in.Request.RemoteAddr = fmt.Sprintf("req-%d", i), "192.0.2.7:"+port
		if d := e.Evaluate(context.Background(), in); !d.Allow {
			t.Fatalf("request %d denied: %+v", i, d)
		}
	}
	if h := resultCount(t, reg, "portcullis_policy_decision_cache_total", "hit"); h != 1 {
		t.Fatalf("%v hits, want 1: the key held the request id or the client port, which the policy does not read", h)
	}
}

func TestKeyedDecisionCacheTakesACollisionForAMiss(t *testing.T) {
	t.Parallel()
	dc, why := newDecisionCache(ast.NewCompiler(), &inputNeeds{}, 10)
	if dc == nil {
		t.Fatal(why)
	}
	allow := &policy.Decision{Allow: true}
	dc.putKeyed([]byte("key a"), allow)
	if d := dc.getKeyed([]byte("key a")); d != allow {
		t.Fatalf("get of the key put = %v, want its decision", d)
	}
	if d := dc.getKeyed([]byte("key b")); d != nil {
		t.Fatalf("get of another key = %v, want nil", d)
	}
	// key b's hash slot holding key a's decision: a collision.
	dc.keyed.Add(maphash.Bytes(dc.seed, []byte("key b")), &keyedDecision{key: "key a", d: allow})
	if d := dc.getKeyed([]byte("key b")); d != nil {
		t.Fatalf("get of a colliding key = %v, want nil (a miss)", d)
	}
}
