package generation

import (
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/validate"
)

// routeStages are the built stages of one route; nil ones are left out.
type routeStages struct {
	guard, authn, body, validate, authz, assert pipeline.Middleware
	throttle, limit                             pipeline.Middleware
	// inputBody tells that the policy reads the body.
	inputBody bool
	proxy     pipeline.Handler
}

// buildChain orders the stages of a route and checks, once, what each needs
// before it:
//
//	guard (limits from the headers, before anything reads)
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
	return pipeline.Build(s.proxy,
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
