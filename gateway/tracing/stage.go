package tracing

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
)

// noSpan is what Child returns outside a recorded request: ending it does
// nothing, and it allocates nothing.
var noSpan = trace.SpanFromContext(context.Background())

// stageKey keys the *stageSpan of the stage running in a context.
type stageKey struct{}

// stageSpan is one stage's span and the request span it hangs under, so
// that the stage that follows is its sibling, not its child.
type stageSpan struct {
	parent, span trace.Span
	handedOn     bool
}

// Stage wraps the middleware of a pipeline stage so that the stage's own
// work is a span named name under the request's span: it ends when the
// stage hands on to next (the following stages are its siblings) or when
// the stage returns without doing so, with the reason code of its error.
// A request whose span is not recording (tracing off, or not sampled)
// runs mw as it is. Stage(name, nil) is nil, a stage the route leaves out.
func Stage(name string, mw pipeline.Middleware) pipeline.Middleware {
	if mw == nil {
		return nil
	}
	return func(next pipeline.Handler) pipeline.Handler {
		handOn := pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			st, _ := r.Context().Value(stageKey{}).(*stageSpan)
			if st == nil || st.handedOn {
				return next.ServeHTTP(w, r)
			}
			st.handedOn = true
			st.span.End()
			return next.ServeHTTP(w, r.WithContext(trace.ContextWithSpan(r.Context(), st.parent)))
		})
		inner := mw(handOn)
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			parent := trace.SpanFromContext(r.Context())
			if !parent.IsRecording() {
				return inner.ServeHTTP(w, r)
			}
			ctx, span := parent.TracerProvider().Tracer(scope).Start(r.Context(), name)
			st := &stageSpan{parent: parent, span: span}
			err := inner.ServeHTTP(w, r.WithContext(context.WithValue(ctx, stageKey{}, st)))
			if !st.handedOn {
				endWith(span, err)
			}
			return err
		})
	}
}

// endWith records the reason code of err, if any, and ends span.
func endWith(span trace.Span, err error) {
	if err != nil {
		if p, ok := errors.AsType[*problem.Problem](err); ok {
			span.SetAttributes(attribute.String(attrReason, string(p.Reason)))
			if p.Status >= 500 {
				span.SetStatus(codes.Error, string(p.Reason))
			}
		} else {
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}

// Upstream wraps the proxy, the last handler of a chain: the exchange with
// the upstream is a client span, and the upstream gets a traceparent whose
// parent is that span (the request's span when it is not recording, so an
// unsampled request still propagates the gateway's trace id, flagged not
// sampled). The client's tracestate goes only with a continued trace.
func Upstream(h pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		parent := trace.SpanFromContext(r.Context())
		if !parent.SpanContext().IsValid() { // tracing off: headers as they came
			return h.ServeHTTP(w, r)
		}
		if !parent.IsRecording() {
			inject(r.Context(), r.Header)
			return h.ServeHTTP(w, r)
		}
		ctx, span := parent.TracerProvider().Tracer(scope).Start(r.Context(), "upstream", trace.WithSpanKind(trace.SpanKindClient))
		inject(ctx, r.Header)
		err := h.ServeHTTP(w, r.WithContext(ctx))
		if x := proxy.ExchangePart.From(ctx); x != nil {
			span.SetAttributes(attribute.String(attrServerAddr, x.Upstream))
			if x.Status != 0 {
				span.SetAttributes(attribute.Int(attrStatus, x.Status))
			}
		}
		endWith(span, err)
		return err
	})
}

// inject replaces the trace context headers with ctx's span context; the
// incoming tracestate survives only where Extract took it into ctx.
func inject(ctx context.Context, h http.Header) {
	h.Del(TraceparentHeader)
	h.Del(TracestateHeader)
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
}

// Child starts a client span named name for an outgoing call made on
// behalf of ctx's request (an introspection call, a JWKS refetch), when
// the request's span is recording; else it returns ctx and a span whose
// End does nothing, at no cost. End it with EndChild.
func Child(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noSpan
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
}

// EndChild records the HTTP status of the call (0: none) and ends span.
func EndChild(span trace.Span, status int, err error) {
	if !span.IsRecording() {
		return
	}
	if status != 0 {
		span.SetAttributes(attribute.Int(attrStatus, status))
	}
	if err != nil {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
