package engine

import (
	"context"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// EvaluateLogged decides a logged input document (a decision-log event's
// input, see policy/replay) the way the gateway decides a request: it keeps
// only the parts of input the policy reads (inputNeeds) and answers from
// the decision cache when the policy allows caching, so replaying a day of
// traffic evaluates each distinct pruned input once. Otherwise it is
// EvaluateValue.
func (e *Engine) EvaluateLogged(ctx context.Context, input ast.Value) *policy.Decision {
	c := e.state.Load()
	if c == nil {
		return e.evaluate(ctx, nil, nil)
	}
	return e.evaluateCached(ctx, c, prune(input, c.needs), nil)
}

// prune returns the parts of v that n says the policy reads. A reference
// below a value that is not an object is undefined whatever the value, so
// such a value is kept whole.
func prune(v ast.Value, n *inputNeeds) ast.Value {
	obj, ok := v.(ast.Object)
	if n == nil || n.all || !ok {
		return v
	}
	out := ast.NewObject()
	for k, sub := range n.keys {
		if t := obj.Get(ast.StringTerm(k)); t != nil {
			out.Insert(ast.StringTerm(k), ast.NewTerm(prune(t.Value, sub)))
		}
	}
	return out
}

// RecordedDecision is the decision a logged result (the decision rule's
// value in a decision-log event) stands for, under the same contract as
// EvaluateValue: a result that does not conform is a deny with Reasons
// policy_invalid_result and Err set.
func RecordedDecision(result ast.Value) *policy.Decision {
	d := &policy.Decision{Result: result}
	if err := parseResult(result, d); err != nil {
		return &policy.Decision{Result: result, Reasons: []string{ReasonInvalidResult}, Err: &EvalError{Reason: ReasonInvalidResult, Err: err}}
	}
	return d
}

// InputPaths lists the paths of the input document the active policy
// reads, each with everything below it ([] alone: the whole document);
// nil before a policy is active. A replay parses only these parts of a
// logged input (EvaluateLogged would prune the rest).
func (e *Engine) InputPaths() [][]string {
	c := e.state.Load()
	if c == nil {
		return nil
	}
	var out [][]string
	var walk func(n *inputNeeds, path []string)
	walk = func(n *inputNeeds, path []string) {
		if n.all {
			out = append(out, slices.Clone(path))
			return
		}
		for k, sub := range n.keys {
			walk(sub, append(path, k))
		}
	}
	walk(c.needs, nil)
	return out
}
