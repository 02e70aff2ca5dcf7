package server

import (
	"context"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy/decisionlog"
)

// DecisionIDHeader carries the decision_id of the request's decision-log event.
const DecisionIDHeader = "X-Decision-Id"

// logDecision writes the one decision-log event of a request, whatever its
// outcome: allow, deny, authentication or validation failure, limit, upstream error.
// It needs no *http.Request, so a refusal made before net/http built one
// is logged the same way: the request facts are in st (see arrive), header
// (which may be nil) gives the configured headers.
func logDecision(ctx context.Context, g *generation.Generation, header http.Header, st *pipeline.State) {
	if !g.DecisionLog.Enabled() {
		return
	}
	ev := &decisionlog.Event{
		DecisionID:     st.DecisionID,
		Timestamp:      st.Start,
		Path:           g.DecisionPath,
		Status:         st.Status,
		Reasons:        []string{st.Reason},
		Route:          st.Input.Route.Name,
		Latency:        time.Since(st.Start),
		UpstreamStatus: st.UpstreamStatus,
		RequestedBy:    st.Input.Request.RemoteAddr,
		// The whole input document, written from the Go values (the policy
		// may have been given only the parts it reads); a request rejected
		// before authentication has a null identity, one no route took only
		// the request facts.
		Input:         &st.Input,
		ForwardedPath: st.ForwardedPath,
	}
	if st.Input.Request.Path == "" { // no canonical path: say what came
		ev.RawPath = st.RawPath
	}
	if len(st.Presented) > 0 {
		ev.Credentials = make([]decisionlog.Credential, len(st.Presented))
		for i, p := range st.Presented {
			ev.Credentials[i] = decisionlog.Credential(p)
		}
	}
	if id := st.Input.Identity; id != nil {
		ev.Subject, ev.Consumer, ev.AuthnMethod = id.Subject, id.Consumer, id.Method
	}
	if d := st.Decision; d != nil {
		ev.Result, ev.Bundles = d.Result, d.Bundles
		ev.Allow = d.Allow && st.Reason == "allow"
		ev.Reasons = append(ev.Reasons, d.Reasons...)
		ev.EvalDuration, ev.Cached = d.Eval, d.Cached
		if d.Err != nil {
			ev.Error = d.Err.Error()
		}
	}
	if len(g.LogHeaders) > 0 {
		ev.RequestHeaders = make(map[string][]string, len(g.LogHeaders))
		for _, h := range g.LogHeaders {
			if v := header.Values(h); len(v) > 0 {
				ev.RequestHeaders[h] = v
			}
		}
	}
	g.DecisionLog.Log(ctx, ev)
}
