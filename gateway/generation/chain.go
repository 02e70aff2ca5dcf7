package generation

import (
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/tracing"
	"github.com/portcullis/portcullis/gateway/validate"
)

// routeStages are the built stages of one route; nil ones are left out.
type routeStages struct {
	ipfilter, cors                              pipeline.Middleware
	guard, authn, body, validate, authz, assert pipeline.Middleware
	throttle, limit                             pipeline.Middleware
	// inputBody tells that the policy reads the body.
	inputBody bool
	proxy     pipeline.Handler
	// traced makes authn, validate, authz and the proxy spans of the request.
	traced bool
}

// buildChain orders the stages of a route and checks, once, what each needs
// before it:
//
//	ip_filter (the client's address: nothing of a refused client is checked)
//	→ cors (a preflight is answered here, before any credential is asked for)
//	→ guard (limits from the headers, before anything reads)
//	→ throttle (a blocked address's credential is not even checked)
//	→ authn (identity: the body budget tells anonymous callers apart)
//	→ body (read or buffer, within the budget)
//	→ validate (reads the buffered body; records the verdict)
//	→ authz (the input with identity and verdict; with input_body the body)
//	→ limit (rate limits; the decision may choose their class)
//	→ enforce (the verdict's rejection, only once the policy allowed)
//	→ assert (the identity assertion, only for a request let through)
//	→ proxy.
func buildChain(s routeStages) (pipeline.Handler, error) {
	authzNeeds := []pipeline.StageName{pipeline.StageAuthn}
	if s.inputBody {
		authzNeeds = append(authzNeeds, pipeline.StageBody)
	}
	var enforce pipeline.Middleware
	if s.validate != nil {
		enforce = validate.Enforce
	}
	if s.traced {
		s.authn = tracing.Stage("authn", s.authn)
		s.validate = tracing.Stage("validate", s.validate)
		s.authz = tracing.Stage("authz", s.authz)
		s.proxy = tracing.Upstream(s.proxy)
	}
	return pipeline.Build(s.proxy,
		pipeline.Stage{Name: pipeline.StageIPFilter, Middleware: s.ipfilter},
		pipeline.Stage{Name: pipeline.StageCORS, After: []pipeline.StageName{pipeline.StageIPFilter}, Middleware: s.cors},
		pipeline.Stage{Name: pipeline.StageGuard, Middleware: s.guard},
		pipeline.Stage{Name: pipeline.StageThrottle, After: []pipeline.StageName{pipeline.StageGuard}, Middleware: s.throttle},
		pipeline.Stage{Name: pipeline.StageAuthn, After: []pipeline.StageName{pipeline.StageGuard, pipeline.StageThrottle}, Middleware: s.authn},
		pipeline.Stage{Name: pipeline.StageBody, Needs: []pipeline.StageName{pipeline.StageAuthn}, After: []pipeline.StageName{pipeline.StageGuard}, Middleware: s.body},
		pipeline.Stage{Name: pipeline.StageValidate, Needs: []pipeline.StageName{pipeline.StageBody}, Middleware: s.validate},
		pipeline.Stage{Name: pipeline.StageAuthz, Needs: authzNeeds, After: []pipeline.StageName{pipeline.StageValidate}, Middleware: s.authz},
		pipeline.Stage{Name: pipeline.StageLimit, Needs: []pipeline.StageName{pipeline.StageAuthz}, Middleware: s.limit},
		pipeline.Stage{Name: pipeline.StageEnforce, Needs: []pipeline.StageName{pipeline.StageValidate, pipeline.StageAuthz}, Middleware: enforce},
		pipeline.Stage{Name: pipeline.StageAssert, Needs: []pipeline.StageName{pipeline.StageAuthz}, After: []pipeline.StageName{pipeline.StageEnforce}, Middleware: s.assert},
	)
}
