package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Reason codes of the stages.
const (
	ReasonRateLimited = "rate_limited"
	ReasonThrottled   = "auth_throttled"
	ReasonUnavailable = "rate_limit_unavailable"
)

var errNoState = errors.New("ratelimit: request has no pipeline state")

// unavailable is the answer when the shared store failed under on_error deny.
func unavailable(err error) error {
	return problem.Wrap(http.StatusServiceUnavailable, ReasonUnavailable, "rate limits cannot be checked right now", err).
		WithHeader("Retry-After", "1")
}

// Limits are the rate limits of one configuration over one Store.
type Limits struct {
	store   Store
	classes map[string][]*limit
	auth    config.AuthFailures
	m       *metrics
	// unknown holds the classes decisions named that the configuration
	// lacks, each warned about once: a bundle ahead of its configuration
	// must not write a log line per request. It holds at most
	// maxUnknownClasses names (a policy could take the class from the
	// request); beyond, nothing more is logged.
	unknownMu sync.Mutex
	unknown   map[string]bool
}

const maxUnknownClasses = 64

// firstUnknown tells whether class is a missing class not warned about yet.
func (l *Limits) firstUnknown(class string) bool {
	l.unknownMu.Lock()
	defer l.unknownMu.Unlock()
	if l.unknown[class] || len(l.unknown) >= maxUnknownClasses {
		return false
	}
	if l.unknown == nil {
		l.unknown = map[string]bool{}
	}
	l.unknown[class] = true
	return true
}

// limit is one compiled config.Limit.
type limit struct {
	ns     string // the bucket namespace: route/name or class:class/name
	label  string // the limit label of the metric
	name   string
	spec   Spec
	parts  []keyPart
	policy string // its RateLimit-Policy item
}

// New compiles the classes of cfg.RateLimit over store; reg receives the
// metrics.
func New(cfg *config.Config, store Store, reg prometheus.Registerer) (*Limits, error) {
	if store == nil {
		return nil, errors.New("ratelimit: nil store")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	l := &Limits{store: store, classes: map[string][]*limit{}, auth: cfg.RateLimit.AuthFailures, m: m}
	for name, ls := range cfg.RateLimit.Classes {
		if l.classes[name], err = compile("class:"+name, name+"/", ls); err != nil {
			return nil, fmt.Errorf("rate_limit.classes.%s: %w", name, err)
		}
	}
	return l, nil
}

func compile(ns, label string, ls []config.Limit) ([]*limit, error) {
	out := make([]*limit, len(ls))
	for i, c := range ls {
		if c.Rate < 1 || c.Burst < 1 || c.Per <= 0 {
			return nil, fmt.Errorf("limit %q: rate, burst and per must be positive", c.Name)
		}
		parts, err := compileKey(c.Key)
		if err != nil {
			return nil, fmt.Errorf("limit %q: %w", c.Name, err)
		}
		s := Spec{Interval: c.Per / time.Duration(c.Rate), Burst: c.Burst}
		if s.Interval <= 0 {
			return nil, fmt.Errorf("limit %q: rate %d per %s is finer than 1ns", c.Name, c.Rate, c.Per)
		}
		out[i] = &limit{ns: ns + "/" + c.Name, label: label + c.Name, name: c.Name, spec: s, parts: parts, policy: policyItem(c.Name, s)}
	}
	return out, nil
}

// Stage is the rate-limit stage of rt, after authorization: a decision
// that names a class ("rate_limit": {"class": NAME}) has that class's
// limits instead of the route's (a class the configuration lacks keeps the
// route's and is logged). Every limit that applies takes one request; when
// one refuses, the request gets 429 rate_limited with Retry-After. Allowed
// and refused responses carry RateLimit-Policy and RateLimit for the
// limits that applied. When the shared store fails under on_error deny, the
// request gets 503 rate_limit_unavailable. Nil when rt has no limits and
// there are no classes: nothing to do.
func (l *Limits) Stage(rt *config.Route) (pipeline.Middleware, error) {
	own, err := compile(rt.Name, "", rt.RateLimits)
	if err != nil {
		return nil, err
	}
	if len(own) == 0 && len(l.classes) == 0 {
		return nil, nil
	}
	route := rt.Name
	ownPolicy := policyValue(own)
	classPolicy := make(map[string][]string, len(l.classes))
	for name, c := range l.classes {
		classPolicy[name] = policyValue(c)
	}
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			ctx := r.Context()
			in := input.Part.From(ctx)
			if in == nil {
				return errNoState
			}
			ls, policy := own, ownPolicy
			if res := authz.ResultPart.From(ctx); res != nil && res.Decision != nil && res.Decision.RateLimitClass != "" {
				c, ok := l.classes[res.Decision.RateLimitClass]
				if ok {
					ls, policy = c, classPolicy[res.Decision.RateLimitClass]
				} else {
					if l.firstUnknown(res.Decision.RateLimitClass) {
						zerolog.Ctx(ctx).Warn().Str("class", res.Decision.RateLimitClass).Msg("the decision names a rate-limit class the configuration lacks; the route's limits apply (logged once per class)")
					}
				}
			}
			if len(ls) == 0 {
				return next.ServeHTTP(w, r)
			}
			var buf [128]byte
			state := buf[:0]
			var refused *limit
			var wait time.Duration
			for i, lm := range ls {
				res, err := l.store.Take(ctx, lm.ns, key(lm.parts, r, &in.Input, route), lm.spec)
				if err != nil {
					return unavailable(err)
				}
				if i > 0 {
					state = append(state, ", "...)
				}
				state = appendState(state, lm.name, res)
				if !res.Allowed && res.RetryAfter >= wait {
					refused, wait = lm, res.RetryAfter
				}
			}
			h := w.Header()
			h[headerPolicy] = policy
			h[headerState] = []string{string(state)}
			if refused != nil {
				l.m.limited.WithLabelValues(route, refused.label).Inc()
				return problem.New(http.StatusTooManyRequests, ReasonRateLimited, "too many requests").
					WithHeader("Retry-After", retryAfter(wait))
			}
			return next.ServeHTTP(w, r)
		})
	}, nil
}
