package body

import (
	"errors"
	"io"
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// errNoState means a stage ran outside the pipeline; it fails closed (500).
var errNoState = errors.New("body: no pipeline state in request context")

// Guard enforces l from the request headers, before anything reads the body:
//   - a Content-Length over MaxBodyBytes gets 413 body_too_large without
//     reading, so a client sending Expect: 100-continue never gets 100;
//   - a Content-Encoding other than identity gets 415 encoding_not_allowed,
//     except one gzip layer when AllowEncodedBody is set;
//   - a body without Content-Length (chunked, or HTTP/2 without the header)
//     gets 411 length_required when RequireContentLength is set.
//
// Guard reads nothing: a body without Content-Length is buffered (and held
// to the limit) by [Budget.Buffer] after authentication. Every body is
// wrapped so that no reader can get more than MaxBodyBytes from it. When the
// gateway answers an HTTP/1.x request itself without having read its body
// to the end, the response carries Connection: close: Go's server would
// otherwise read up to 256 KiB of a body nobody asked for (an
// unauthenticated one, say) before sending the answer. Requests without a
// body pass untouched.
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
			if r.ContentLength < 0 && n.requireCL {
				return problem.New(http.StatusLengthRequired, ReasonLengthRequired, "the request body needs a Content-Length")
			}
			st := Part.From(r.Context())
			if st == nil {
				return errNoState
			}
			// The wrapper is part of the request's parts: no allocation.
			st.guard = eofReader{ReadCloser: http.MaxBytesReader(w, r.Body, n.maxBody)}
			body := &st.guard
			r.Body = body
			err := next.ServeHTTP(w, r)
			if err != nil && !body.eof && r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			return err
		})
	}
}

// eofReader records whether its reader reached the end.
type eofReader struct {
	io.ReadCloser
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// hasBody tells whether r may carry body bytes.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}
