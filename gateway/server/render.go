package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
)

// StatusClientClosed is logged (never sent) when the client went away.
const StatusClientClosed = 499

// render is the one place that writes application/problem+json. A
// *problem.Problem is sent as it is (its Err only logged); anything else is
// a generic 500 with the cause logged.
func render(w http.ResponseWriter, r *http.Request, st *pipeline.State, err error, log *zerolog.Logger) {
	if errors.Is(err, proxy.ErrClientGone) || errors.Is(r.Context().Err(), context.Canceled) {
		st.Status = StatusClientClosed
		st.Reason = "client_closed"
		return
	}
	p := problem.As(err)
	if p == nil {
		p = problem.Wrap(http.StatusInternalServerError, "internal_error", "the gateway failed to handle the request", err)
	}
	st.Status = p.Status
	if st.Reason == "" || st.Reason == "allow" {
		st.Reason = p.Reason
	}
	body := *p
	body.Instance = "urn:request:" + st.Input.Request.ID
	body.RequestID = st.Input.Request.ID

	ev := log.Debug()
	if p.Status >= 500 {
		ev = log.Error()
	}
	ev.Err(p.Err).Int("status", p.Status).Str("reason", p.Reason).Msg("request rejected")

	h := w.Header()
	for k, v := range p.Header {
		h[k] = v
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(&body)
}
