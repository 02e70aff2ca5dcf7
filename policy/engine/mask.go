package engine

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/portcullis/portcullis/policy"
)

// MaskActive reports whether the active bundles define a mask or drop rule.
func (e *Engine) MaskActive() bool {
	c := e.state.Load()
	return c != nil && (c.mask != nil || c.drop != nil)
}

// Mask evaluates the active bundles' mask and drop rules with the whole
// decision-log event as input, with OPA's semantics: each mask value is a
// JSON pointer (Op "remove") or {"op": "upsert"|"remove", "path": ..,
// "value": ..}; drop is a boolean rule. When the bundles define neither
// rule it returns nil, false, nil without evaluating anything. event
// values may be ast.Value (e.g. the decision input) or JSON-like Go values.
func (e *Engine) Mask(ctx context.Context, event map[string]any) (ops []policy.MaskOp, drop bool, err error) {
	c := e.state.Load()
	if c == nil || (c.mask == nil && c.drop == nil) {
		return nil, false, nil
	}
	input, err := ast.InterfaceToValue(event)
	if err != nil {
		return nil, false, fmt.Errorf("mask input: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	if c.drop != nil {
		v, err := evalRule(ctx, c.drop, input)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", e.opts.DropRule, err)
		}
		if drop, _ = v.(bool); drop {
			return nil, true, nil
		}
	}
	if c.mask == nil {
		return nil, false, nil
	}
	v, err := evalRule(ctx, c.mask, input)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", e.opts.MaskRule, err)
	}
	if ops, err = maskOps(v); err != nil {
		return nil, false, fmt.Errorf("%s: %w", e.opts.MaskRule, err)
	}
	return ops, false, nil
}

// evalRule returns the rule's value as a JSON-like Go value, or nil when
// it is undefined. ctx bounds the evaluation.
func evalRule(ctx context.Context, q *query, input ast.Value) (any, error) {
	cancel := topdown.NewCancel()
	defer context.AfterFunc(ctx, cancel.Cancel)()
	v, err := q.eval(ctx, input, cancel)
	if err != nil || v == nil {
		return nil, err
	}
	return ast.JSON(v)
}

// maskOps converts the mask rule's value (a set, so an array here).
func maskOps(v any) ([]policy.MaskOp, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("value is %T, want a set", v)
	}
	ops := make([]policy.MaskOp, 0, len(arr))
	for _, x := range arr {
		switch m := x.(type) {
		case string:
			ops = append(ops, policy.MaskOp{Op: "remove", Path: m})
		case map[string]any:
			op, _ := m["op"].(string)
			path, _ := m["path"].(string)
			if (op != "remove" && op != "upsert") || path == "" {
				return nil, fmt.Errorf("mask entry wants op remove|upsert and a path")
			}
			ops = append(ops, policy.MaskOp{Op: op, Path: path, Value: m["value"]})
		default:
			return nil, fmt.Errorf("mask entry is %T, want string or object", x)
		}
	}
	return ops, nil
}
