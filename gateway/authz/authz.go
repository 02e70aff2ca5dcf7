// Package authz is the authorization stage: it evaluates the policy for the request and turns the decision into allow, 401 or 403.
package authz

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
)

// Reason codes set on the request state.
const (
	ReasonAllow = "allow"
	ReasonDeny  = "policy_deny"
)

// detail is the only client-visible explanation of a deny: policy reasons
// and evaluation errors go to the decision log, never to the client.
const detail = "denied by policy"

// New returns the authorization stage of route. Per request it evaluates
// eng on the state's input and records the decision in the state. On a
// route with policy.input_body the buffered body becomes input.request.body
// (see inputBody).
//
// On deny it returns a problem with the policy's status when it chose one,
// else 401 with "WWW-Authenticate: Bearer" for an anonymous identity, else
// 403; the reason is policy_deny, or the engine's failure code
// (policy_undefined, policy_invalid_result, policy_error, policy_timeout):
// an engine failure is a deny, never a 500. The decision's response
// headers are sent on allow and deny. On allow the decision's headers are
// queued for the upstream request, its removals appended to DelHeaders,
// and next runs.
func New(eng *engine.Engine, route *config.Route) (pipeline.Middleware, error) {
	if eng == nil {
		return nil, errors.New("authz: nil engine")
	}
	opaEnvoy := route != nil && route.Policy.InputCompat == "opa-envoy"
	withBody := route != nil && route.Policy.InputBody
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			st := pipeline.StateFrom(r.Context())
			if st == nil {
				// A wiring bug; fail closed rather than skip the policy.
				return problem.Wrap(http.StatusForbidden, engine.ReasonError, detail, errors.New("authz: no request state"))
			}
			st.Input.OPAEnvoy = opaEnvoy
			if withBody {
				inputBody(st, r, opaEnvoy)
			}
			d := eng.Evaluate(r.Context(), &st.Input)
			st.Decision = d
			for name, v := range d.ResponseHeaders {
				w.Header().Set(name, v)
			}
			if !d.Allow {
				return deny(st, d)
			}
			for name, v := range d.Headers {
				st.SetHeader(name, v)
			}
			st.DelHeaders = append(st.DelHeaders, d.RemoveHeaders...)
			st.Reason = ReasonAllow
			return next.ServeHTTP(w, r)
		})
	}, nil
}

func deny(st *pipeline.State, d *policy.Decision) error {
	reason := ReasonDeny
	var ee *engine.EvalError
	if errors.As(d.Err, &ee) {
		reason = ee.Reason
	}
	st.Reason = reason
	anonymous := st.Input.Identity == nil || !st.Input.Identity.Authenticated
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
