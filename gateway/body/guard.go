package body

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// errNoState means a stage ran outside the pipeline; it fails closed (500).
var errNoState = errors.New("body: no pipeline state in request context")

// Guard enforces l before anything reads the body:
//   - a Content-Length over MaxBodyBytes gets 413 body_too_large without
//     reading, so a client sending Expect: 100-continue never gets 100;
//   - a Content-Encoding other than identity gets 415 encoding_not_allowed,
//     except one gzip layer when AllowEncodedBody is set;
//   - a body without Content-Length (chunked, or HTTP/2 without the header)
//     gets 411 length_required when RequireContentLength is set, and is
//     otherwise read here, up to the limit, into st.Body, so an over-limit
//     stream gets 413 before any later stage or the upstream sees it.
//
// Every body left unread is wrapped so that no reader can get more than
// MaxBodyBytes from it. Requests without a body pass untouched.
func Guard(l config.Limits) pipeline.Middleware {
	n := normalize(l)
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if !hasBody(r) {
				return next.ServeHTTP(w, r)
			}
			if r.ContentLength > n.maxBody {
				return tooLarge()
			}
			if _, p := isGzip(r.Header, n.allowEncoded); p != nil {
				return p
			}
			streamed := r.ContentLength < 0
			if streamed && n.requireCL {
				return problem.New(http.StatusLengthRequired, ReasonLengthRequired, "the request body needs a Content-Length")
			}
			r.Body = http.MaxBytesReader(w, r.Body, n.maxBody)
			if streamed {
				st := pipeline.StateFrom(r.Context())
				if st == nil {
					return errNoState
				}
				// Kong let chunked bodies past its size limit (Kong PR #13303):
				// buffer them here so the limit holds before the upstream is contacted.
				if p := readInto(st, r, n.maxBody); p != nil {
					return p
				}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

// hasBody tells whether r may carry body bytes.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}
