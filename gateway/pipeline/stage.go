package pipeline

import (
	"fmt"
	"slices"
)

// StageName names a stage in the order requirements of others.
type StageName string

// The stages of a route's chain.
const (
	StageGuard    StageName = "guard"    // body limits from the headers (gateway/body)
	StageThrottle StageName = "throttle" // addresses that failed authentication too often (gateway/ratelimit)
	StageAuthn    StageName = "authn"    // the identity (gateway/authn)
	StageBody     StageName = "body"     // the buffered body (gateway/body)
	StageValidate StageName = "validate" // the OpenAPI verdict (gateway/validate)
	StageAuthz    StageName = "authz"    // the policy decision (gateway/authz)
	StageLimit    StageName = "limit"    // the rate limits, the decision's class (gateway/ratelimit)
	StageEnforce  StageName = "enforce"  // the verdict's rejection after allow (gateway/validate)
	StageAssert   StageName = "assert"   // the signed identity assertion (gateway/assertion)
)

// The stages at a route's entry, in front of the guard.
const (
	StageIPFilter StageName = "ip_filter" // the client address lists (gateway/ipfilter)
	StageCORS     StageName = "cors"      // preflights answered, CORS response headers (gateway/cors)
)

// Stage is one step of a route's chain and what it requires of the steps
// before it.
type Stage struct {
	Name StageName
	// Needs are stages that must run before this one.
	Needs []StageName
	// After are stages that, when the chain has them, must run before this one.
	After      []StageName
	Middleware Middleware
}

// Build returns the chain of stages, in order, in front of last (the
// proxy). A stage with a nil Middleware is left out, as a route that does
// not configure it. Build fails when a stage appears twice or runs before
// one it needs, so that no stage has to check per request what ran before.
func Build(last Handler, stages ...Stage) (Handler, error) {
	ran := make([]StageName, 0, len(stages))
	mws := make([]Middleware, 0, len(stages))
	for _, s := range stages {
		if s.Middleware == nil {
			continue
		}
		if slices.Contains(ran, s.Name) {
			return nil, fmt.Errorf("pipeline: stage %s appears twice", s.Name)
		}
		for _, n := range s.Needs {
			if !slices.Contains(ran, n) {
				return nil, fmt.Errorf("pipeline: stage %s needs %s before it", s.Name, n)
			}
		}
		for _, n := range s.After {
			if !slices.Contains(ran, n) && slices.ContainsFunc(stages, func(o Stage) bool { return o.Name == n && o.Middleware != nil }) {
				return nil, fmt.Errorf("pipeline: stage %s must run after %s", s.Name, n)
			}
		}
		ran = append(ran, s.Name)
		mws = append(mws, s.Middleware)
	}
	return Chain(last, mws...), nil
}
