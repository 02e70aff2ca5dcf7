package body

import (
	"encoding/json"
	"github.com/portcullis/portcullis/gateway/config"
	"net/http"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// recorder is a next handler that records whether it ran and what it saw.
type recorder struct {
	ran   bool
	state pipeline.State
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	rc.ran = true
	rc.state = *pipeline.StateFrom(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// serve adapts a pipeline to net/http the way the server does: a fresh
// State per request, and problems rendered as problem+json.
func serve(h pipeline.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &pipeline.State{}
		r = r.WithContext(pipeline.WithState(r.Context(), st))
		if err := h.ServeHTTP(w, r); err != nil {
			p := problem.As(err)
			if p == nil {
				p = problem.New(http.StatusInternalServerError, "internal", "")
			}
			for k, v := range p.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(p.Status)
			_ = json.NewEncoder(w).Encode(p)
		}
	})
}

// limitsWith returns the default limits changed by mod.
func limitsWith(mod func(l *config.Limits)) config.Limits {
	l := config.Default().Limits
	if mod != nil {
		mod(&l)
	}
	return l
}
