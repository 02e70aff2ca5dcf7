package server

import (
	"encoding/json"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/problem"
)

// render is the one place that writes application/problem+json: p as it
// is, its Err only logged, with the request id as instance.
func render(w http.ResponseWriter, p *problem.Problem, requestID string, log *zerolog.Logger) {
	body := *p
	body.Instance = "urn:request:" + requestID
	body.RequestID = requestID

	ev := log.Debug()
	if p.Status >= 500 {
		ev = log.Error()
	}
	ev.Err(p.Err).Int("status", p.Status).Str("reason", string(p.Reason)).Msg("request rejected")

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
