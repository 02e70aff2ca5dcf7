package engine

import (
	"fmt"
	"hash/maphash"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/internal/lazylru"
	"github.com/portcullis/portcullis/policy"
)

// decisionCache holds the decisions of one policy generation, keyed by the
// input as the policy sees it (pruned to its needs, see inputNeeds). Within
// a generation the data is fixed, so for a policy that calls no
// non-deterministic or clock-reading builtin the decision is a function of
// that pruned input alone: a cached decision is the one evaluation would
// make. RBAC-style policies read a role, groups, a method and a path, so a
// handful of entries answer most requests; a reload starts a new cache.
//
// Only decisions the policy made are cached; an evaluation error or a
// timeout is never replayed. Both caches are LRUs whose hits promote an
// entry only once it has left the most recent half (see lazylru), so a
// hit among many clients' decisions takes a read lock and moves nothing.
type decisionCache struct {
	// entries is keyed by the input's hash; a hit is confirmed by comparing
	// the inputs, so a collision is a miss, never a wrong decision.
	entries *lazylru.Cache[int, *cachedDecision]
	// keyed holds the gateway's decisions by the hash of plan.appendKey's
	// key, which is the (pruned) input itself: a hit is confirmed by
	// comparing the keys, so a collision is a miss. Looking up by the hash
	// needs no string of the key, which would be an allocation per request.
	keyed *lazylru.Cache[uint64, *keyedDecision]
	seed  maphash.Seed
	// plan writes the keys of keyed.
	plan *keyPlan
}

type cachedDecision struct {
	input ast.Value
	d     *policy.Decision
}

type keyedDecision struct {
	key string
	d   *policy.Decision
}

// newDecisionCache returns a cache of size entries for the modules compiled
// in compiler, which read needs of the input, or nil with the reason when
// their decisions cannot be cached (or size is 0).
func newDecisionCache(compiler *ast.Compiler, needs *inputNeeds, size int) (*decisionCache, string) {
	if size <= 0 {
		return nil, "disabled"
	}
	if name := impureBuiltin(compiler); name != "" {
		return nil, fmt.Sprintf("the policy calls %s, whose result is not a function of its arguments", name)
	}
	if needs.reads("request", "id") || needs.reads("attributes", "request", "http", "id") {
		// A key that differs on every request would only churn the cache.
		return nil, "the policy reads the request id, which differs on every request"
	}
	entries, err := lazylru.New[int, *cachedDecision](size)
	if err != nil {
		return nil, err.Error()
	}
	keyed, err := lazylru.New[uint64, *keyedDecision](size)
	if err != nil {
		return nil, err.Error()
	}
	return &decisionCache{entries: entries, keyed: keyed, seed: maphash.MakeSeed(), plan: newKeyPlan(needs)}, ""
}

// getKeyed returns the decision cached for the key plan.appendKey wrote,
// or nil.
func (dc *decisionCache) getKeyed(key []byte) *policy.Decision {
	e, ok := dc.keyed.Get(maphash.Bytes(dc.seed, key))
	if !ok || e.key != string(key) {
		return nil
	}
	return e.d
}

// putKeyed caches d, a decision the policy made (no Err), for key; it
// replaces a colliding key's decision.
func (dc *decisionCache) putKeyed(key []byte, d *policy.Decision) {
	dc.keyed.Add(maphash.Bytes(dc.seed, key), &keyedDecision{key: string(key), d: d})
}

// get returns the decision cached for input, or nil.
func (dc *decisionCache) get(input ast.Value) *policy.Decision {
	e, ok := dc.entries.Get(input.Hash())
	if !ok || !sameValue(e.input, input) {
		return nil
	}
	return e.d
}

// sameValue reports whether a and b are the same JSON value, numbers
// compared as written: Rego's equality takes 1 and 1.0 for one value, but
// json.marshal and sprintf tell them apart, so a decision made for one must
// not answer for the other. The input document holds only JSON values.
func sameValue(a, b ast.Value) bool {
	switch a := a.(type) {
	case ast.Number:
		bn, ok := b.(ast.Number)
		return ok && a == bn
	case *ast.Array:
		bs, ok := b.(*ast.Array)
		if !ok || a.Len() != bs.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Elem(i).Value, bs.Elem(i).Value) {
				return false
			}
		}
		return true
	case ast.Object:
		bo, ok := b.(ast.Object)
		if !ok || a.Len() != bo.Len() {
			return false
		}
		same := true
		a.Until(func(k, v *ast.Term) bool {
			w := bo.Get(k)
			same = w != nil && sameValue(v.Value, w.Value)
			return !same
		})
		return same
	}
	return ast.ValueEqual(a, b) // strings, booleans, null
}

// put caches d, a decision the policy made (no Err), for input.
func (dc *decisionCache) put(input ast.Value, d *policy.Decision) {
	dc.entries.Add(input.Hash(), &cachedDecision{input: input, d: d})
}

// hit returns a copy of the cached decision d for this request, in dst
// when it is not nil. The copy shares d's maps and slices, which nobody
// modifies.
func hit(d *policy.Decision, start time.Time, dst *policy.Decision) *policy.Decision {
	if dst == nil {
		dst = new(policy.Decision)
	}
	*dst = *d
	dst.Eval, dst.Cached = time.Since(start), true
	return dst
}

// clockBuiltins read the current time although OPA does not mark them
// non-deterministic: a certificate chain is verified at time.Now unless the
// options give a CurrentTime.
var clockBuiltins = map[string]bool{
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

// impureBuiltin returns the name of a builtin the compiled modules call
// whose result depends on more than its arguments (OPA's
// non-deterministic builtins such as time.now_ns, http.send, rand.intn,
// uuid.rfc4122 and io.jwt.decode_verify, and clockBuiltins), or "" when
// there is none.
func impureBuiltin(compiler *ast.Compiler) string {
	found := ""
	for _, m := range compiler.Modules {
		// The compiler has rewritten every call nested in a term (an
		// argument, a rule head, a with value, a comprehension key) into an
		// expression of its own, so the expressions hold them all.
		ast.WalkExprs(m, func(x *ast.Expr) bool {
			if !x.IsCall() || found != "" {
				return found != ""
			}
			name := x.Operator().String()
			if b, ok := ast.BuiltinMap[name]; ok && (b.IsNondeterministic() || clockBuiltins[name]) {
				found = name
			}
			return false
		})
	}
	return found
}
