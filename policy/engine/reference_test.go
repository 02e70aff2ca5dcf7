package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/portcullis/portcullis/policy"
)

// refEvaluator is the reference of fastEvaluator: plain rego, prepared
// from the same compiled modules and store, given the whole input document
// as a Go value (so rego converts it afresh); no pruning, no decision
// cache, no topdown query of our own, no custom virtual cache.
type refEvaluator struct {
	e  *Engine
	c  *compiled
	pq rego.PreparedEvalQuery
}

// newRefEvaluator prepares the reference of e's active generation.
func newRefEvaluator(t testing.TB, e *Engine) *refEvaluator {
	t.Helper()
	c := e.state.Load()
	return &refEvaluator{e: e, c: c, pq: prepareRef(t, c, e.opts.Query)}
}

// prepareRef prepares rule with plain rego on generation c.
func prepareRef(t testing.TB, c *compiled, rule string) rego.PreparedEvalQuery {
	t.Helper()
	pq, err := rego.New(
		rego.Query(rule),
		rego.Compiler(c.decision.compiler),
		rego.Store(c.decision.store),
	).PrepareForEval(context.Background())
	if err != nil {
		t.Fatalf("prepare %s: %v", rule, err)
	}
	return pq
}

func (r *refEvaluator) eval(ctx context.Context, in *policy.Input) *policy.Decision {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.e.opts.Timeout)
	defer cancel()
	doc, err := ast.JSON(InputValue(in))
	var v ast.Value
	if err == nil {
		v, err = evalRef(ctx, r.pq, doc)
	}
	return r.e.decide(r.c, start, v, err, errors.Is(ctx.Err(), context.DeadlineExceeded))
}

// evalRef returns the value of pq's rule for input (a JSON-like Go value),
// or nil when it is undefined.
func evalRef(ctx context.Context, pq rego.PreparedEvalQuery, input any) (ast.Value, error) {
	rs, err := pq.Eval(ctx, rego.EvalInput(input))
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return ast.InterfaceToValue(rs[0].Expressions[0].Value)
}
