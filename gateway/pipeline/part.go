package pipeline

import (
	"context"
	"sync/atomic"
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
	rq, _ := ctx.Value(requestKey).(*Request)
	if rq == nil {
		return nil
	}
	v, _ := rq.parts[p.slot].(*T)
	return v
}

type ctxKey int

const requestKey ctxKey = 0

// WithRequest returns ctx carrying rq.
func WithRequest(ctx context.Context, rq *Request) context.Context {
	return context.WithValue(ctx, requestKey, rq)
}
