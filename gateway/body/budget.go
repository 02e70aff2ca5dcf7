package body

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// ReasonBufferBudgetExhausted is the 503 of a body the gateway would have to
// buffer while all buffered bodies together already hold the budget.
const ReasonBufferBudgetExhausted = "buffer_budget_exhausted"

// errBudget means a reservation could not grow; it becomes a 503.
var errBudget = errors.New("body buffer budget exhausted")

// Budget bounds the memory of every request body buffered at once (issue 12,
// class 4: a hundred anonymous chunked bodies cost 136 MiB). Buffer capacity
// is reserved before it is allocated and released when the request ends.
// Anonymous requests share a smaller part of it, so they cannot starve
// authenticated callers. A nil *Budget reserves nothing and never refuses.
type Budget struct {
	total, anon    int64
	used, anonUsed atomic.Int64
	refused        *prometheus.CounterVec
}

// NewBudget returns the budget of l.MaxBufferedBytes bytes, of which
// anonymous requests may use l.MaxAnonymousBufferedBytes, and registers its
// metrics with reg (when not nil).
func NewBudget(l config.Limits, reg prometheus.Registerer) (*Budget, error) {
	b := &Budget{total: int64(l.MaxBufferedBytes), anon: int64(l.MaxAnonymousBufferedBytes)}
	if b.total <= 0 || b.anon <= 0 || b.anon > b.total {
		return nil, errors.New("body budget: max_buffered_bytes and max_anonymous_buffered_bytes must be positive, anonymous within total")
	}
	b.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_body_buffer_refusals_total",
		Help: "Requests answered 503 because buffering their body would exceed the buffer budget, by caller (anonymous or authenticated).",
	}, []string{"caller"})
	if reg != nil {
		inUse := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portcullis_body_buffered_bytes",
			Help: "Bytes of request-body buffer reserved right now, across all requests.",
		}, func() float64 { return float64(b.used.Load()) })
		if err := reg.Register(inUse); err != nil {
			return nil, err
		}
		if err := reg.Register(b.refused); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// reservation is what one request holds of a Budget.
type reservation struct {
	b    *Budget
	anon bool
	n    int64
}

// reserve starts the reservation of r: anonymous unless authentication
// (which runs before, see [Stage]) established an identity. It is a value,
// kept on the caller's stack: one fewer allocation per request.
func (b *Budget) reserve(r *http.Request) reservation {
	if b == nil {
		return reservation{}
	}
	var id *policy.Identity
	if d := input.Part.From(r.Context()); d != nil {
		id = d.Identity
	}
	return reservation{b: b, anon: id == nil || !id.Authenticated}
}

// grow reserves n more bytes, or reports that the budget cannot give them.
func (r *reservation) grow(n int64) bool {
	if r == nil || r.b == nil {
		return true
	}
	if !take(&r.b.used, r.b.total, n) {
		return false
	}
	if r.anon && !take(&r.b.anonUsed, r.b.anon, n) {
		r.b.used.Add(-n)
		return false
	}
	r.n += n
	return true
}

func take(used *atomic.Int64, limit, n int64) bool {
	for {
		u := used.Load()
		if u+n > limit {
			return false
		}
		if used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release gives back everything r holds.
func (r *reservation) release() {
	if r == nil || r.b == nil || r.n == 0 {
		return
	}
	r.b.used.Add(-r.n)
	if r.anon {
		r.b.anonUsed.Add(-r.n)
	}
	r.n = 0
}

// exhausted is the 503 for a reservation that could not grow.
func (r *reservation) exhausted() *problem.Problem {
	caller := "authenticated"
	if r.anon {
		caller = "anonymous"
	}
	r.b.refused.WithLabelValues(caller).Inc()
	return problem.New(http.StatusServiceUnavailable, ReasonBufferBudgetExhausted, "the gateway is buffering too many request bodies right now").
		WithHeader("Retry-After", "1")
}

// Buffer reads a body without Content-Length (chunked, or HTTP/2 without
// the header) into st.Body, at most MaxBodyBytes (else 413 body_too_large),
// so that the limit holds before any later stage or the upstream sees it
// (Kong let chunked bodies past its size limit, Kong PR #13303). It runs
// after authentication, so that only callers that passed it (or, on an
// anonymous route, within the anonymous part of b) cost memory; bodies with
// a Content-Length are left to stream. The buffer is reserved from b (503
// buffer_budget_exhausted with Retry-After when it cannot be) and released
// when the request ends.
func (b *Budget) Buffer(l config.Limits) pipeline.Middleware {
	n := normalize(l)
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if !hasBody(r) || r.ContentLength > 0 {
				return next.ServeHTTP(w, r)
			}
			st := Part.From(r.Context())
			if st == nil {
				return errNoState
			}
			if st.Read {
				return next.ServeHTTP(w, r)
			}
			res := b.reserve(r)
			defer res.release()
			if p := readInto(st, r, n.maxBody, &res); p != nil {
				return p
			}
			return next.ServeHTTP(w, r)
		})
	}
}
