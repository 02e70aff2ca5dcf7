package ratelimit

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Throttle is the credential-stuffing defence of rt, in front of
// authentication: a request from a client address (input.request.client_ip)
// that is blocked gets 429 auth_throttled with Retry-After, its credential
// unchecked; every failed authentication of the address is counted
// ([counts]), and the one that makes auth_failures.max_failures within
// window blocks it for block_for. Nil when the defence is off or rt
// authenticates nobody.
func (l *Limits) Throttle(rt *config.Route) pipeline.Middleware {
	a := l.auth
	if !*a.Enabled || len(rt.Authn.Methods) == 0 {
		return nil
	}
	throttled := l.m.throttled.WithLabelValues(rt.Name)
	quiet, _ := l.store.(quietStore)
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			ctx := r.Context()
			in := input.Part.From(ctx)
			if in == nil {
				return errNoState
			}
			if in.Request.ClientIP == "" { // no address to count against
				return next.ServeHTTP(w, r)
			}
			// While no address at all is blocked, every address is free to
			// try: no digest, no lookup, no lock.
			if quiet == nil || !quiet.noneBlocked() {
				left, err := l.store.Blocked(ctx, Key(in.Request.ClientIP))
				if err != nil {
					return unavailable(err)
				}
				if left > 0 {
					throttled.Inc()
					return problem.New(http.StatusTooManyRequests, ReasonThrottled, "too many failed authentications from this address").
						WithHeader("Retry-After", retryAfter(left))
				}
			}
			err := next.ServeHTTP(w, r)
			if counts(err) {
				// An error here is logged by the store's fallback; the
				// request's own answer (401) stands.
				k := Key(in.Request.ClientIP)
				if blocked, _ := l.store.Fail(ctx, k, a.MaxFailures, a.Window, a.BlockFor); blocked {
					l.m.blocks.Inc()
				}
			}
			return err
		})
	}
}

// quietStore is a Store that can tell, without a lookup, that it blocks no
// address at all ([Local]; a shared store cannot: another replica may
// have blocked one).
type quietStore interface {
	noneBlocked() bool
}

// counts tells whether err is a failed authentication that counts: a
// credential presented and refused (401: a bad API key or signature, an
// unknown issuer, an inactive token, a malformed credential). No
// credential at all does not count: that is a browser before its login,
// not a guess. Nor does 503: the gateway could not check.
func counts(err error) bool {
	if err == nil { // before errors.As, whose target escapes: no allocation per request
		return false
	}
	var f *authn.Failure
	if !errors.As(err, &f) {
		return false
	}
	p := problem.As(f.Err)
	return p != nil && p.Status == http.StatusUnauthorized && p.Reason != authn.ReasonMissing
}
