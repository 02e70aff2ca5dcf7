package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy/decisionlog"
)

// DecisionIDHeader carries the decision_id of the request's decision-log event.
const DecisionIDHeader = "X-Decision-Id"

// logDecision writes the one decision-log event of a request, whatever its
// outcome o: allow, deny, authentication or validation failure, limit,
// upstream error. It is built from the parts of x and the error the chain
// returned (err, which names the credentials of a failed authentication).
// It needs no *http.Request, so a refusal made before net/http built one
// is logged the same way: the request facts are in x.in (see
// input.Arrive), header (which may be nil) gives the configured headers.
// The request then goes to the shadow policy, if there is one.
func logDecision(ctx context.Context, g *generation.Generation, header http.Header, x *exchange, err error, o pipeline.Outcome) {
	if !g.DecisionLog.Enabled() {
		shadowDecision(g, x, nil)
		return
	}
	ev := &decisionlog.Event{
		DecisionID:     x.decisionID,
		Timestamp:      x.start,
		Path:           g.DecisionPath,
		Status:         o.Status,
		Reasons:        append(x.reasons[:0], string(o.Reason)),
		Route:          x.in.Route.Name,
		Latency:        time.Since(x.start),
		UpstreamStatus: x.up.Status,
		RequestedBy:    x.in.Request.RemoteAddr,
		// The whole input document, written from the Go values (the policy
		// may have been given only the parts it reads); a request rejected
		// before authentication has a null identity, one no route took only
		// the request facts.
		Input:         &x.in.Input,
		ForwardedPath: x.up.ForwardedPath,
	}
	if x.span != nil {
		// Also when not sampled: it is the trace id the upstream got.
		ev.TraceID = x.span.SpanContext().TraceID().String()
	}
	if x.in.Request.Path == "" { // no canonical path: say what came
		ev.RawPath = x.in.RawPath
	}
	if f, ok := errors.AsType[*authn.Failure](err); err != nil && ok && len(f.Presented) > 0 {
		ev.Credentials = make([]decisionlog.Credential, len(f.Presented))
		for i, p := range f.Presented {
			ev.Credentials[i] = decisionlog.Credential(p)
		}
	}
	if id := x.in.Identity; id != nil {
		ev.Subject, ev.Consumer, ev.AuthnMethod = id.Subject, id.Consumer, id.Method
	}
	if d := x.authz.Decision; d != nil {
		ev.Result, ev.Bundles = d.Result, d.Bundles
		ev.Allow = d.Allow && o.Allowed()
		ev.Reasons = append(ev.Reasons, d.Reasons...)
		ev.EvalDuration, ev.Cached = d.Eval, d.Cached
		if d.Err != nil {
			ev.Error = d.Err.Error()
		}
	}
	if len(g.LogHeaders) > 0 {
		// One small slice, not a map: a map's buckets were the largest
		// allocation of the event.
		ev.RequestHeaders = make([]decisionlog.Header, 0, len(g.LogHeaders))
		for _, h := range g.LogHeaders {
			if v := header.Values(h); len(v) > 0 {
				ev.RequestHeaders = append(ev.RequestHeaders, decisionlog.Header{Name: h, Values: v})
			}
		}
	}
	g.DecisionLog.Log(ctx, ev)
	shadowDecision(g, x, ev)
}

// shadowDecision hands a request whose input reached the policy to the
// shadow evaluator, if the generation has one. It runs when the request is
// finished, so nothing changes the input any more, and it never waits: the
// shadow decides on its own goroutine (policy/shadow), never changing the
// response; a divergence is written as a second event ev with the same
// decision_id (nil: no decision log).
func shadowDecision(g *generation.Generation, x *exchange, ev *decisionlog.Event) {
	d := x.authz.Decision
	if d == nil || g.Shadow == nil {
		return
	}
	var kept *decisionlog.Event
	if ev != nil {
		// A copy outlives the request; ev itself stays on the stack, so a
		// gateway without a shadow allocates nothing more.
		c := *ev
		kept = &c
	}
	g.Shadow.Submit(&x.in.Input, d, kept)
}
