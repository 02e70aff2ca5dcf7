package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestEvaluateLoggedDecidesAsTheGateway replays the whole logged input
// document of a request: the decision is the one Evaluate made, and a
// second request that differs only where the policy does not read (the
// request id) is answered from the decision cache.
func TestEvaluateLoggedDecidesAsTheGateway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		cache  int
		cached bool
	}{
		{"with the decision cache", 100, true},
		{"without it", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, Options{Sources: sources(exampleBundle), DecisionCacheSize: tc.cache})
			in := typicalInput()
			want := e.Evaluate(ctx, in)
			logged := InputValue(in)
			got := e.EvaluateLogged(ctx, logged)
			if got.Allow != want.Allow || !slices.Equal(got.Reasons, want.Reasons) || got.Err != nil {
				t.Fatalf("logged %+v, gateway %+v", got, want)
			}
			in.Request.ID = "req-2"
			if again := e.EvaluateLogged(ctx, InputValue(in)); again.Cached != tc.cached || again.Allow != want.Allow {
				t.Fatalf("second replay cached %v allow %v, want %v %v", again.Cached, again.Allow, tc.cached, want.Allow)
			}
		})
	}
}

func TestInputPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       string
	}{
		{"constant references", `decision := input.request.method == "GET" if input.identity.groups[_] == "a"`, "identity.groups request.method"},
		{"a variable key reads everything below", `decision := true if input.request[_] == "x"`, "request"},
		{"the whole input", `decision := count(input) > 0`, ""},
		{"no input at all", `decision := true`, "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, Options{Sources: sources(authzBundle(t, "r", tc.body))})
			var got []string
			for _, p := range e.InputPaths() {
				got = append(got, strings.Join(p, "."))
			}
			slices.Sort(got)
			s := strings.Join(got, " ")
			if got == nil {
				s = "-"
			}
			if s != tc.want {
				t.Fatalf("paths %q, want %q", s, tc.want)
			}
		})
	}
}

func TestRecordedDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		result  string
		allow   bool
		reasons string
	}{
		{`true`, true, ""},
		{`{"allow": false, "reasons": ["a", "b"]}`, false, "a,b"},
		{`{"allowed": true}`, true, ""},
		{`{"allow": "yes"}`, false, ReasonInvalidResult},
		{`"allow"`, false, ReasonInvalidResult},
	}
	for _, tc := range tests {
		t.Run(tc.result, func(t *testing.T) {
			t.Parallel()
			d := RecordedDecision(ast.MustParseTerm(tc.result).Value)
			if d.Allow != tc.allow || strings.Join(d.Reasons, ",") != tc.reasons {
				t.Fatalf("decision %+v", d)
			}
		})
	}
}
