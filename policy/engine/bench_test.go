package engine

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// BenchmarkEvaluate measures a decision for a JWT user reading the users
// API: the evaluation alone (input built beforehand) of the example policy
// and of OPA's floor, a policy that allows everything, and the example
// policy with the input document built per request, as the gateway does
// for a JWT (a cached token's identity is converted per request too: see
// jwt.identity).
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	example := newEngine(b, Options{Sources: sources(exampleBundle)})
	allowAll := newEngine(b, Options{Sources: sources(authzBundle(b, "1", `decision := {"allow": true}`))})
	cached := newEngine(b, Options{Sources: sources(exampleBundle), DecisionCacheSize: 10})
	in := typicalInput()
	input := InputValue(in)
	for _, bc := range []struct {
		name string
		eval func() *policy.Decision
	}{
		{"example policy", func() *policy.Decision { return example.EvaluateValue(ctx, input) }},
		{"allow-all policy", func() *policy.Decision { return allowAll.EvaluateValue(ctx, input) }},
		{"example policy with input build", func() *policy.Decision { return example.Evaluate(ctx, in) }},
		{"example policy with input build, decision cached", func() *policy.Decision { return cached.Evaluate(ctx, in) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := bc.eval(); !d.Allow {
					b.Fatalf("denied: %v", d.Err)
				}
			}
		})
	}
}

// BenchmarkInputValue builds the input document of a JWT request whose
// identity is converted every time (an uncached identity).
func BenchmarkInputValue(b *testing.B) {
	in := typicalInput()
	b.ReportAllocs()
	for b.Loop() {
		_ = InputValue(in)
	}
}
