package pipeline

import (
	"context"
	"sync/atomic"
	"time"
)

// Request is what one request carries through the pipeline: one part per
// package that keeps per-request state (the policy input, the body, the
// validation verdict, the decision, the header edits, the upstream
// exchange). Each part's type is declared, written and documented by its
// package and reached through that package's [Part]; the outcome is not a
// part: stages return it. The server allocates the parts together, so a
// request costs one allocation however many parts there are.
type Request struct {
	parts [maxParts]any
	// cancel ends the request's context (see WithRequest).
	cancel context.CancelCauseFunc
	// ctx is the request's context, allocated with the rest.
	ctx requestCtx
}

// requestCtx carries its request, as context.WithValue would, without an
// allocation of its own.
type requestCtx struct {
	context.Context
	rq *Request
}

func (c *requestCtx) Value(key any) any {
	if key == requestKey {
		return c.rq
	}
	return c.Context.Value(key)
}

// maxParts bounds the parts; NewPart panics beyond it (at init).
const maxParts = 8

var nparts atomic.Int32

// Part is the key of one package's per-request part, of type T.
type Part[T any] struct{ slot int }

// NewPart declares a part; call it once, in a package-level var.
func NewPart[T any]() Part[T] {
	n := int(nparts.Add(1)) - 1
	if n >= maxParts {
		panic("pipeline: too many request parts")
	}
	return Part[T]{slot: n}
}

// Bind makes v the part of rq.
func (p Part[T]) Bind(rq *Request, v *T) { rq.parts[p.slot] = v }

// From returns the part of the request in ctx: nil outside the pipeline or
// when the server did not bind it.
func (p Part[T]) From(ctx context.Context) *T {
	return p.Of(FromContext(ctx))
}

// Of returns the part of rq: nil when rq is nil or the server did not
// bind it. A stage reading several parts finds rq in its context once.
func (p Part[T]) Of(rq *Request) *T {
	if rq == nil {
		return nil
	}
	v, _ := rq.parts[p.slot].(*T)
	return v
}

type ctxKey int

const requestKey ctxKey = 0

// WithRequest returns the request's context: ctx carrying rq, cancelled
// when ctx is, when rq's deadline passes (Expire) or when it ends (End).
// It is made once per request, so that a stage bounding the rest of the
// request in time (the proxy: the route's timeout over the upstream
// exchange) needs no context and no request copy of its own. The context
// is part of rq: call it once per Request.
func WithRequest(ctx context.Context, rq *Request) context.Context {
	ctx, rq.cancel = context.WithCancelCause(ctx)
	rq.ctx = requestCtx{Context: ctx, rq: rq}
	return &rq.ctx
}

// FromContext returns the request in ctx, nil outside the pipeline.
func FromContext(ctx context.Context) *Request {
	rq, _ := ctx.Value(requestKey).(*Request)
	return rq
}

// Expire cancels the request's context with the cause
// context.DeadlineExceeded once d has passed, unless the timer returned is
// stopped first: a deadline armed where it begins, as context.WithTimeout
// would give one, on the context the request already has.
func (rq *Request) Expire(d time.Duration) *time.Timer {
	return time.AfterFunc(d, rq.expire)
}

func (rq *Request) expire() { rq.cancel(context.DeadlineExceeded) }

// End cancels the request's context: the request is over.
func (rq *Request) End() {
	if rq.cancel != nil {
		rq.cancel(nil)
	}
}
