package engine

import (
	"context"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// evaluator makes the decisions of one policy generation. It is the seam
// between the decision contract (Engine.EvaluateValue, parseResult, the
// metrics) and the way the decision rule is evaluated: fastEvaluator,
// the production one, leans on OPA's internals for speed, and a plain
// rego.PreparedEvalQuery given the whole input document is its reference
// in the differential test (differential_test.go), so an OPA upgrade that
// changes what those internals do fails a test instead of a request.
type evaluator interface {
	// eval decides in. It never returns nil and never allows on failure.
	eval(ctx context.Context, in *policy.Input) *policy.Decision
}

// fastEvaluator is the production evaluator of generation c. It builds
// only the parts of the input the policy reads (inputNeeds), answers a
// decision it made for the same parts before from the decision cache when
// the policy allows that (decisionCache), and evaluates with topdown
// directly (query) and a virtual cache of its own (smallCache).
type fastEvaluator struct {
	e *Engine
	c *compiled
}

func (f *fastEvaluator) eval(ctx context.Context, in *policy.Input) *policy.Decision {
	return f.evalInto(ctx, in, nil)
}

// evalInto is eval that writes a decision-cache hit to dst (see
// Engine.EvaluateInto).
func (f *fastEvaluator) evalInto(ctx context.Context, in *policy.Input, dst *policy.Decision) *policy.Decision {
	c := f.c
	if c.cache == nil {
		return f.e.evaluate(ctx, c, inputValue(in, c.needs))
	}
	kp := keyPool.Get().(*[]byte)
	defer func() {
		if cap(*kp) <= maxKey {
			keyPool.Put(kp)
		}
	}()
	key, ok := c.cache.plan.appendKey((*kp)[:0], in)
	*kp = key
	if !ok {
		return f.e.evaluateCached(ctx, c, inputValue(in, c.needs), dst)
	}
	// A hit is answered without building the OPA value of the input.
	start := time.Now()
	if d := c.cache.getKeyed(key); d != nil {
		f.e.metrics.cacheHits.Inc()
		f.e.metrics.evals[resultOf(d)].Inc()
		return hit(d, start, dst)
	}
	f.e.metrics.cacheMisses.Inc()
	d := f.e.evaluate(ctx, c, inputValue(in, c.needs))
	if d.Err == nil {
		c.cache.putKeyed(key, d)
	}
	return d
}

// keyPool holds the buffers of keyPlan.appendKey; one that grew past maxKey
// (a policy reading many headers) is not kept.
var keyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxKey = 1 << 14

// evaluateCached decides input, pruned to c's needs, from c's decision
// cache when it has one, caching what the policy decided. A hit is
// written to dst when it is not nil.
func (e *Engine) evaluateCached(ctx context.Context, c *compiled, input ast.Value, dst *policy.Decision) *policy.Decision {
	if c.cache == nil {
		return e.evaluate(ctx, c, input)
	}
	start := time.Now()
	if d := c.cache.get(input); d != nil {
		e.metrics.cacheHits.Inc()
		e.metrics.evals[resultOf(d)].Inc()
		return hit(d, start, dst)
	}
	e.metrics.cacheMisses.Inc()
	d := e.evaluate(ctx, c, input)
	if d.Err == nil {
		c.cache.put(input, d)
	}
	return d
}
