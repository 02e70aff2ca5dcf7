package body

import (
	"encoding/json"
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"

	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// testState is what a stage of the package saw and left: the buffered
// body under the names of its fields before issue 13.
type testState struct {
	Body, PlainBody []byte
	BodyRead        bool
}

// recorder is a next handler that records whether it ran and what it saw.
type recorder struct {
	ran   bool
	state testState
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	rc.ran = true
	b := Part.From(r.Context())
	rc.state = testState{Body: b.Bytes, PlainBody: b.Plain, BodyRead: b.Read}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// serve adapts a pipeline to net/http the way the server does: a fresh
// State per request, and problems rendered as problem+json.
func serve(h pipeline.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rq pipeline.Request
		Part.Bind(&rq, &Buffered{})
		input.Part.Bind(&rq, &input.Doc{})
		r = r.WithContext(pipeline.WithRequest(r.Context(), &rq))
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
