// Package authz is the authorization stage: it evaluates the policy for the request and turns the decision into allow, 401 or 403.
package authz

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
)

// ReasonDeny is the reason of a deny the engine did not fail on.
const ReasonDeny problem.Reason = "policy_deny"

// Result is what authorization decided for a request.
type Result struct {
	// Decision is the engine's; nil when the stage did not run.
	Decision *policy.Decision
	// cached holds Decision when the engine answered from its decision
	// cache (engine.EvaluateInto): the Result lives as long as the
	// request, so the copy needs no allocation of its own.
	cached policy.Decision
	// DecisionID is the id of the request's decision-log event, set by
	// the server; the identity assertion carries it.
	DecisionID string
}

// ResultPart is the request's Result.
var ResultPart = pipeline.NewPart[Result]()

// detail is the only client-visible explanation of a deny: policy reasons
// and evaluation errors go to the decision log, never to the client.
const detail = "denied by policy"

// New returns the authorization stage of route. Per request it evaluates
// eng on the request's input ([input.Doc]) and records the decision in its
// [Result]. On a
// route with policy.input_body the buffered body becomes input.request.body
// (see inputBody).
//
// On deny it returns a problem with the policy's status when it chose one,
// else 401 with "WWW-Authenticate: Bearer" for an anonymous identity, else
// 403; the reason is policy_deny, or the engine's failure code
// (policy_undefined, policy_invalid_result, policy_error, policy_timeout):
// an engine failure is a deny, never a 500. The decision's response
// headers are sent on allow and deny. On allow the decision's headers and
// removals are queued for the upstream request ([header.Edits]) and next runs.
func New(eng *engine.Engine, route *config.Route) (pipeline.Middleware, error) {
	if eng == nil {
		return nil, errors.New("authz: nil engine")
	}
	opaEnvoy := route != nil && route.Policy.InputCompat == "opa-envoy"
	withBody := route != nil && route.Policy.InputBody
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			ctx := r.Context()
			in, res, edits := input.Part.From(ctx), ResultPart.From(ctx), header.EditsPart.From(ctx)
			if in == nil || res == nil || edits == nil {
				// A wiring bug; fail closed rather than skip the policy.
				return problem.Wrap(http.StatusForbidden, engine.ReasonError, detail, errors.New("authz: no request state"))
			}
			in.OPAEnvoy = opaEnvoy
			if withBody {
				inputBody(&in.Request, body.Part.From(ctx), r, opaEnvoy)
			}
			d := eng.EvaluateInto(ctx, &in.Input, &res.cached)
			res.Decision = d
			for name, v := range d.ResponseHeaders {
				w.Header().Set(name, v)
			}
			if !d.Allow {
				return deny(in.Identity, d)
			}
			for name, v := range d.Headers {
				edits.Set(name, v)
			}
			edits.Delete(d.RemoveHeaders...)
			return next.ServeHTTP(w, r)
		})
	}, nil
}

func deny(id *policy.Identity, d *policy.Decision) error {
	reason := ReasonDeny
	var ee *engine.EvalError
	if errors.As(d.Err, &ee) {
		reason = problem.Reason(ee.Reason)
	}
	anonymous := id == nil || !id.Authenticated
	status := d.Status
	switch {
	case status != 0:
	case anonymous:
		status = http.StatusUnauthorized
	default:
		status = http.StatusForbidden
	}
	p := problem.Wrap(status, reason, detail, d.Err)
	if status == http.StatusUnauthorized {
		p.WithHeader("WWW-Authenticate", "Bearer")
	}
	return p
}
