package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/portcullis/portcullis/policy"
)

// Reason codes of decisions that deny because evaluation failed.
const (
	ReasonUndefined     = "policy_undefined"
	ReasonInvalidResult = "policy_invalid_result"
	ReasonError         = "policy_error"
	ReasonTimeout       = "policy_timeout"
)

// EvalError is the Decision.Err of a decision that denies because the
// policy could not decide. Reason is one of the Reason* codes. Its message
// is for logs; it may name rule locations but never input values.
type EvalError struct {
	Reason string
	Err    error
}

func (e *EvalError) Error() string { return e.Reason + ": " + e.Err.Error() }

func (e *EvalError) Unwrap() error { return e.Err }

// Evaluate evaluates the decision rule for in with the active generation's
// evaluator (fastEvaluator). See EvaluateValue.
func (e *Engine) Evaluate(ctx context.Context, in *policy.Input) *policy.Decision {
	c := e.state.Load()
	if c == nil {
		return e.evaluate(ctx, nil, nil) // denies before reading the input
	}
	return c.eval.eval(ctx, in)
}

// EvaluateInto is Evaluate that writes a decision answered from the
// decision cache to dst, which the caller keeps for the request (the
// authorization stage's Result), instead of a new Decision: a cached
// request then allocates nothing for its decision. Any other decision is
// returned as Evaluate returns it, so the caller must use the result, not
// dst. A nil dst is Evaluate.
func (e *Engine) EvaluateInto(ctx context.Context, in *policy.Input, dst *policy.Decision) *policy.Decision {
	if c := e.state.Load(); c != nil {
		if f, ok := c.eval.(*fastEvaluator); ok {
			return f.evalInto(ctx, in, dst)
		}
	}
	return e.Evaluate(ctx, in)
}

// EvaluateValue evaluates the decision rule with input as the input
// document, under the engine's timeout. It never returns nil and never
// allows on failure: an undefined or non-conforming result, an evaluation
// error or a timeout is Allow=false with Err an *EvalError and Reasons its
// code, counted in portcullis_policy_evaluations_total{result}.
//
// The decision contract (README "Decision"): the rule returns a boolean, or
//
//	{"allow": bool, "status"?: 4xx, "reasons"?: [string],
//	 "headers"?: {name: value}, "response_headers"?: {name: value},
//	 "rate_limit"?: {"class"?: string}}
//
// where headers are added to the upstream request on allow,
// response_headers to the response and rate_limit.class selects the
// rate_limit.classes entry that replaces the route's limits, or OPA-Envoy's output form
//
//	{"allowed": bool, "http_status"?: 4xx, "headers"?: {...},
//	 "response_headers_to_add"?: {...}, "request_headers_to_remove"?: [name],
//	 "body"?: string}
//
// (http_status and body apply on deny only). "status" outside 400–499, a
// header name that is not an HTTP token, a value with CR, LF or NUL, or a
// field of the wrong type make the result invalid, which denies. Unknown
// fields are ignored.
func (e *Engine) EvaluateValue(ctx context.Context, input ast.Value) *policy.Decision {
	return e.evaluate(ctx, e.state.Load(), input)
}

// evaluate evaluates generation c's decision rule with topdown; c is nil
// before any policy loaded.
func (e *Engine) evaluate(ctx context.Context, c *compiled, input ast.Value) *policy.Decision {
	start := time.Now()
	if c == nil {
		return e.fail(&policy.Decision{}, start, ReasonError, resultError, errNotReady)
	}
	// One timer and a context callback cancel the evaluation; left to
	// itself, OPA would start a goroutine per evaluation to watch ctx.
	cancel := topdown.NewCancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(e.opts.Timeout, func() { timedOut.Store(true); cancel.Cancel() })
	stop := context.AfterFunc(ctx, cancel.Cancel)
	v, err := c.decision.eval(ctx, input, cancel)
	timer.Stop()
	stop()
	return e.decide(c, start, v, err, timedOut.Load())
}

// decide makes the decision of one evaluation of generation c's decision
// rule that began at start: its value v (nil when undefined) or err, which
// timedOut says the engine's timeout caused.
func (e *Engine) decide(c *compiled, start time.Time, v ast.Value, err error, timedOut bool) *policy.Decision {
	d := &policy.Decision{Bundles: c.revisions}
	if err != nil {
		if timedOut {
			return e.fail(d, start, ReasonTimeout, resultTimeout, fmt.Errorf("evaluation exceeded %s", e.opts.Timeout))
		}
		return e.fail(d, start, ReasonError, resultError, err)
	}
	if v == nil {
		return e.fail(d, start, ReasonUndefined, resultUndefined, fmt.Errorf("%s is undefined", e.opts.Query))
	}
	d.Result = v
	if err := parseResult(v, d); err != nil {
		return e.fail(d, start, ReasonInvalidResult, resultInvalid, err)
	}
	d.Eval = time.Since(start)
	e.metrics.evalSeconds.Observe(d.Eval.Seconds())
	e.metrics.evals[resultOf(d)].Inc()
	return d
}

// resultOf is the result label of a decision the policy made.
func resultOf(d *policy.Decision) string {
	if d.Allow {
		return resultAllow
	}
	return resultDeny
}

// fail turns d into a deny for reason, clearing anything a partly parsed
// result had set.
func (e *Engine) fail(d *policy.Decision, start time.Time, reason, result string, err error) *policy.Decision {
	*d = policy.Decision{
		Bundles: d.Bundles,
		Result:  d.Result,
		Reasons: []string{reason},
		Err:     &EvalError{Reason: reason, Err: err},
		Eval:    time.Since(start),
	}
	e.metrics.evalSeconds.Observe(d.Eval.Seconds())
	e.metrics.evals[result].Inc()
	return d
}
