package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// Masker decides, per event, what to erase or mask and whether to drop it,
// with the semantics of OPA's data.system.log.mask and data.system.log.drop.
// The policy engine implements it. event is the whole event as a JSON
// document (the same keys as the written event, input and result already
// stripped of the configured erase pointers); Mask must not retain it.
//
// MaskActive reports whether there is anything to evaluate at all (the
// active policy defines a mask or drop rule); when it is false the event
// is not even built for Mask.
//
// The ctx given to Mask carries the request's values but not its
// cancellation (a client that left must not get its event masked wrongly
// or dropped), so Mask bounds its own evaluation: the engine uses its
// policy timeout.
type Masker interface {
	MaskActive() bool
	Mask(ctx context.Context, event map[string]any) (ops []policy.MaskOp, drop bool, err error)
}

// Mask operations, as in policy.MaskOp.Op.
const (
	opRemove = "remove"
	opUpsert = "upsert"
)

// doc is the mutable input and result of one event while it is masked.
type doc struct {
	input, result  any
	erased, masked []string
}

// copyValues replaces input and result by Go copies that erase and apply
// may modify (the event's own values are never modified).
func (d *doc) copyValues() (err error) {
	if d.input, err = toJSON(d.input); err != nil {
		return err
	}
	d.result, err = toJSON(d.result)
	return err
}

func (d *doc) target(root string) *any {
	if root == rootInput {
		return &d.input
	}
	return &d.result
}

// erase removes p and records it when it was defined.
func (d *doc) erase(p pointer) {
	if remove(d.target(p.root), p.parts) {
		d.erased = append(d.erased, p.raw)
	}
}

// apply applies one mask op. An op that is not remove or upsert, or whose
// path is not a pointer under /input or /result, is an error: the caller
// then fails closed.
func (d *doc) apply(op policy.MaskOp) error {
	p, err := parsePointer(op.Path)
	if err != nil {
		return err
	}
	switch op.Op {
	case opRemove, "":
		d.erase(p)
	case opUpsert:
		val, err := toJSON(op.Value)
		if err != nil {
			return fmt.Errorf("mask upsert %s: %w", p.raw, err)
		}
		if upsert(d.target(p.root), p.parts, val) {
			d.masked = append(d.masked, p.raw)
		}
	default:
		return fmt.Errorf("mask op %q (want remove or upsert)", op.Op)
	}
	return nil
}

// eraseAll is the fail-closed answer to a mask rule that cannot be applied:
// nothing of the input or result is written.
func (d *doc) eraseAll() {
	for _, root := range []string{rootInput, rootResult} {
		if t := d.target(root); *t != nil {
			*t = nil
			d.erased = append(d.erased, "/"+root)
		}
	}
}

// toJSON returns a private copy of v made only of map[string]any, []any,
// string, json.Number, float64, bool and nil, so pointers can address it
// and changes never reach the caller's value. An ast.Value is converted
// with ast.JSON (copying maps a lazy object shares with its creator);
// other Go values go through encoding/json.
func toJSON(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, float64, json.Number:
		return x, nil
	case ast.Value:
		return ast.JSONWithOpt(x, ast.JSONOpt{CopyMaps: true})
	case *ast.Term:
		return ast.JSONWithOpt(x.Value, ast.JSONOpt{CopyMaps: true})
	case *policy.Input:
		// Masking is the rare path: the document as it is written, decoded.
		b, err := appendInput(nil, x)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		return v, dec.Decode(&v)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, err := toJSON(e)
			if err != nil {
				return nil, err
			}
			m[k] = c
		}
		return m, nil
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			c, err := toJSON(e)
			if err != nil {
				return nil, err
			}
			s[i] = c
		}
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
