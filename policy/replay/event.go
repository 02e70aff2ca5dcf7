// Package replay re-evaluates decision-log events against candidate bundles and reports the decisions that change.
package replay

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
)

// Event is what replaying needs of one decision-log event (README
// "Decision log"): its input document as the log wrote it (the whole
// document, after the mask rule if one is configured) and the decision the
// policy made then.
type Event struct {
	DecisionID string
	// Path is the decision rule as logged: "portcullis/authz/decision".
	Path string
	// Input is the logged input document; nil when the event has none (no
	// route matched, or it was erased).
	Input ast.Value
	// Recorded is the policy's decision as logged: made from the result,
	// or a deny with the engine's failure code when evaluation failed
	// (undefined, error, timeout). It is nil when the request never reached
	// the policy (Outcome says why) or the result was erased.
	Recorded *policy.Decision
	// Outcome is the request's outcome reason (portcullis.reasons[0]):
	// "allow", "policy_deny", "no_route", "token_missing"...
	Outcome string
	// Route and Subject are portcullis.route and portcullis.subject;
	// Method and RequestPath come from input.request.
	Route, Subject, Method, RequestPath string
	// Masked is true when the mask rule (or an encoding failure) changed
	// the logged input: the replay evaluates what is there.
	Masked bool
	// ResultErased is true when the logged result was removed.
	ResultErased bool
	// Shadow is true for the extra event a shadow bundle writes when it
	// decided a request differently (portcullis.shadow): the request's own
	// event is the one to replay.
	Shadow bool
}

// errNotEvent is returned for JSON that is not a decision-log event.
var errNotEvent = errors.New("not a decision-log event (no decision_id)")

// ParseEvent reads one event from its JSON text, with the parts of its
// input that keep keeps (nil: the whole input; see NewKeep).
func ParseEvent(raw []byte, keep *Keep) (*Event, error) {
	if keep == nil {
		keep = wholeEvent
	}
	p := &parser{b: raw}
	v, err := p.value(keep)
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	members, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%s, not an event object", ast.ValueName(v))
	}
	id, _ := field(members, "decision_id").(ast.String)
	if id == "" {
		return nil, errNotEvent
	}
	path, _ := field(members, "path").(ast.String)
	pc, _ := field(members, "portcullis").(ast.Object)
	reasons := stringsOf(field(pc, "reasons"))
	ev := &Event{DecisionID: string(id), Path: string(path), Route: stringOf(field(pc, "route")), Subject: stringOf(field(pc, "subject"))}
	if len(reasons) > 0 {
		ev.Outcome = reasons[0]
	}
	if sh := field(pc, "shadow"); sh != nil {
		if _, null := sh.(ast.Null); !null {
			ev.Shadow = true
		}
	}
	switch in := field(members, "input").(type) {
	case nil, ast.Null:
	case ast.Object:
		ev.Input = in
		req, _ := field(in, "request").(ast.Object)
		ev.Method, ev.RequestPath = stringOf(field(req, "method")), stringOf(field(req, "path"))
	default:
		return nil, fmt.Errorf("input is %s, want an object", ast.ValueName(in))
	}
	result := field(members, "result")
	if _, null := result.(ast.Null); null {
		result = nil
	}
	for _, p := range append(stringsOf(field(members, "erased")), stringsOf(field(members, "masked"))...) {
		switch {
		case p == "/result" || strings.HasPrefix(p, "/result/"):
			ev.ResultErased = true
		case p == "/input" || strings.HasPrefix(p, "/input/"):
			ev.Masked = true
		}
	}
	switch {
	case ev.ResultErased:
	case result != nil:
		ev.Recorded = engine.RecordedDecision(result)
	case len(reasons) > 1 && slices.Contains(evalFailures, reasons[1]):
		// The gateway logs the outcome reason, then the decision's: an
		// evaluation that failed has no result but its failure code.
		ev.Recorded = &policy.Decision{Reasons: reasons[1:2]}
	}
	return ev, nil
}

// evalFailures are the reasons of a decision the engine made without a
// result (engine.fail).
var evalFailures = []string{engine.ReasonUndefined, engine.ReasonError, engine.ReasonTimeout, engine.ReasonInvalidResult}

// field is obj[key], or nil.
func field(obj ast.Object, key string) ast.Value {
	if obj == nil {
		return nil
	}
	if t := obj.Get(ast.StringTerm(key)); t != nil {
		return t.Value
	}
	return nil
}

func stringOf(v ast.Value) string {
	s, _ := v.(ast.String)
	return string(s)
}

// stringsOf is the strings of an array, other elements left out.
func stringsOf(v ast.Value) []string {
	a, _ := v.(*ast.Array)
	if a == nil {
		return nil
	}
	out := make([]string, 0, a.Len())
	a.Foreach(func(t *ast.Term) {
		if s, ok := t.Value.(ast.String); ok {
			out = append(out, string(s))
		}
	})
	return out
}
