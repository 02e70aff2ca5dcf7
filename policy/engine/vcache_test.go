package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestSmallCacheMatchesOPA replays random operations on smallCache and on
// OPA's own virtual cache, through the overflow, and wants the same
// answers from both.
func TestSmallCacheMatchesOPA(t *testing.T) {
	t.Parallel()
	refs := make([]ast.Ref, 100)
	for i := range refs {
		refs[i] = ast.MustParseRef(fmt.Sprintf("data.p.r%d[%d]", i%37, i))
	}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed))
			small, want := newSmallCache(), topdown.NewVirtualCache()
			depth := 0
			for step := range 2000 {
				ref := refs[rng.IntN(len(refs))]
				switch op := rng.IntN(10); {
				case op == 0 && depth < 4:
					small.Push()
					want.Push()
					depth++
				case op == 1 && depth > 0:
					small.Pop()
					want.Pop()
					depth--
				case op < 5:
					var v *ast.Term
					if rng.IntN(4) > 0 {
						v = ast.IntNumberTerm(step)
					}
					small.Put(slices.Clone(ref), v)
					want.Put(ref, v)
				default:
					gv, gu := small.Get(ref)
					wv, wu := want.Get(ref)
					if gu != wu || !gv.Equal(wv) && (gv != nil || wv != nil) {
						t.Fatalf("step %d: Get(%v) = %v, %v; OPA's cache says %v, %v", step, ref, gv, gu, wv, wu)
					}
				}
			}
			if got, want := sortedRefs(small.Keys()), sortedRefs(want.Keys()); got != want {
				t.Fatalf("Keys() = %s, OPA's cache has %s", got, want)
			}
		})
	}
}

func sortedRefs(refs []ast.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func TestSmallCacheKeepsItsOwnRef(t *testing.T) {
	t.Parallel()
	c := newSmallCache()
	ref := ast.MustParseRef("data.p.a")
	c.Put(ref, ast.BooleanTerm(true))
	ref[2] = ast.StringTerm("b") // the caller reuses its slice
	if v, _ := c.Get(ast.MustParseRef("data.p.a")); v == nil {
		t.Fatal("the cached value was lost when the caller changed its ref")
	}
}

// TestPoliciesThatStressTheRuleCache evaluates rules that cache more values
// than smallCacheLimit, and `with`, which pushes and pops cache frames.
func TestPoliciesThatStressTheRuleCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       bool
	}{
		{"many cached rule values", "odd contains i if {\n\tsome i in numbers.range(1, 300)\n\ti % 2 == 1\n}\nn contains i if {\n\tsome i in numbers.range(1, 300)\n\todd[i]\n}\ndecision := count(n) == 150", true},
		{"a rule under with is re-evaluated and then forgotten", "x := input.version\ny := z if {\n\tz := x with input.version as 7\n}\ndecision if {\n\ty == 7\n\tx == 2\n}", true},
		{"nested with", "a := input.version\nb := v if {\n\tv := a with input.version as 4\n}\nc := v if {\n\tv := [a, b] with input.version as 3\n}\ndecision if {\n\tc == [3, 4]\n\ta == 2\n}", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, Options{Sources: sources(authzBundle(t, "1", tc.body))})
			d := e.Evaluate(context.Background(), typicalInput())
			if d.Err != nil || d.Allow != tc.want {
				t.Fatalf("allow = %v (err %v), want %v", d.Allow, d.Err, tc.want)
			}
		})
	}
}
