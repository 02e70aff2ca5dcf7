package server

import (
	"net/http"
	"time"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy/decisionlog"
)

// DecisionIDHeader carries the decision_id of the request's decision-log event.
const DecisionIDHeader = "X-Decision-Id"

// logDecision writes the one decision-log event of a request, whatever its
// outcome: allow, deny, authentication or validation failure, limit, upstream error.
func (c *components) logDecision(r *http.Request, st *pipeline.State, headers []string) {
	if !c.dlog.Enabled() {
		return
	}
	ev := &decisionlog.Event{
		DecisionID:     st.DecisionID,
		Timestamp:      st.Start,
		Path:           c.dlogPath,
		Status:         st.Status,
		Reasons:        []string{st.Reason},
		Route:          st.Input.Route.Name,
		Latency:        time.Since(st.Start),
		UpstreamStatus: st.UpstreamStatus,
		ForwardedPath:  st.ForwardedPath,
		RequestedBy:    r.RemoteAddr,
	}
	if id := st.Input.Identity; id != nil {
		ev.Subject, ev.Consumer, ev.AuthnMethod = id.Subject, id.Consumer, id.Method
	}
	if st.Input.Route.Name != "" {
		// The whole input document, written from the Go values (the policy
		// may have been given only the parts it reads); a request rejected
		// before authentication has a null identity.
		ev.Input = &st.Input
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
	if len(headers) > 0 {
		ev.RequestHeaders = make(map[string][]string, len(headers))
		for _, h := range headers {
			if v := r.Header.Values(h); len(v) > 0 {
				ev.RequestHeaders[h] = v
			}
		}
	}
	c.dlog.Log(r.Context(), ev)
}
