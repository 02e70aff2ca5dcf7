package engine

import (
	"context"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// TestEvaluateIntoWritesOnlyHits: EvaluateInto decides as Evaluate does;
// only a decision-cache hit lands in dst, and every other decision (a
// miss, no cache) leaves dst alone.
func TestEvaluateIntoWritesOnlyHits(t *testing.T) {
	t.Parallel()
	const rule = `default decision := {"allow": false}
decision := {"allow": true, "headers": {"X-Sub": input.identity.subject}, "reasons": ["ok"]} if input.identity.subject == "alice"`
	ctx := context.Background()
	for _, size := range []int{0, 10} {
		e := newEngine(t, Options{Sources: sources(authzBundle(t, "r", rule)), DecisionCacheSize: size})
		for _, subject := range []string{"alice", "bob"} {
			in := typicalInput()
			in.Identity.Subject = subject
			var dst policy.Decision
			first := e.EvaluateInto(ctx, in, &dst)
			if first == &dst || !reflect.DeepEqual(dst, policy.Decision{}) {
				t.Fatalf("cache %d, %s: a decision that was not a hit was written to dst", size, subject)
			}
			second := e.EvaluateInto(ctx, in, &dst)
			want := e.Evaluate(ctx, in)
			if got := second == &dst; got != (size > 0) {
				t.Fatalf("cache %d, %s: second decision in dst %v, want %v", size, subject, got, size > 0)
			}
			for _, d := range []*policy.Decision{first, second} {
				g, w := *d, *want
				g.Eval, w.Eval, g.Cached = 0, 0, w.Cached
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("cache %d, %s: EvaluateInto %+v, Evaluate %+v", size, subject, g, w)
				}
			}
			if second.Cached != (size > 0) || first.Cached {
				t.Fatalf("cache %d, %s: cached %v then %v", size, subject, first.Cached, second.Cached)
			}
		}
	}
}
