package body

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Read buffers the body for the stages that need it (validation, a policy
// that reads the body). Unless Guard already did, it reads the wire bytes,
// at most MaxBodyBytes (else 413 body_too_large), into the request's
// [Buffered]; the proxy forwards exactly these bytes. It then undoes a
// gzip Content-Encoding into Buffered.Plain with MaxBodyBytes applied to the
// decompressed size (a gzip bomb gets 413; a corrupt stream 400
// encoding_invalid); for a plain body PlainBody is Body. When checkJSON is
// set and the Content-Type is JSON (application/json or +json), the plain
// body must pass [CheckJSON] with MaxJSONDepth and MaxJSONKeys (400
// json_too_deep, json_too_many_keys, json_duplicate_key,
// json_trailing_data), and, before the body is read, the Content-Type
// must name one media type ([CheckContentType], 400
// content_type_ambiguous). Other malformed JSON is left to validation.
func Read(l config.Limits, checkJSON bool) pipeline.Middleware {
	return (*Budget)(nil).Read(l, checkJSON)
}

// Read is [Read] with every buffer, the decompressed body's included,
// reserved from b (503 buffer_budget_exhausted when it cannot be) until the
// request ends.
func (b *Budget) Read(l config.Limits, checkJSON bool) pipeline.Middleware {
	n := normalize(l)
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			st := Part.From(r.Context())
			if st == nil {
				return errNoState
			}
			res := b.reserve(r)
			defer res.release()
			if checkJSON {
				if err := CheckContentType(r.Header); err != nil {
					return err
				}
			}
			if !st.Read {
				if p := readInto(st, r, n.maxBody, &res); p != nil {
					return p
				}
			}
			if st.Plain == nil {
				gz, p := isGzip(r.Header, n.allowEncoded)
				if p != nil {
					return p
				}
				st.Plain = st.Bytes
				if gz && len(st.Bytes) > 0 {
					if st.Plain, p = gunzip(st.Bytes, n.maxBody, &res); p != nil {
						return p
					}
				}
			}
			if checkJSON && IsJSON(ContentType(r.Header)) {
				if err := CheckJSON(st.Plain, n.maxDepth, n.maxKeys); err != nil {
					return err
				}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

// IsJSON reports whether the Content-Type value ct names JSON:
// application/json or any +json type, parameters ignored.
func IsJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	const suffix = "+json"
	return strings.EqualFold(mt, "application/json") ||
		(len(mt) > len(suffix) && strings.EqualFold(mt[len(mt)-len(suffix):], suffix))
}

// readInto reads r.Body, at most max bytes, into st and marks it read;
// r.Body is replaced by a reader over the buffered bytes. The buffer is
// reserved from res.
func readInto(st *Buffered, r *http.Request, max int64, res *reservation) *problem.Problem {
	if r.Body == http.NoBody {
		// The server's body of a request without one (a GET): nothing to
		// read, and no first buffer of unknown length (32 KiB) to allocate
		// and clear per request. r.Body stays NoBody, which forwards alike.
		st.Bytes, st.Read = []byte{}, true
		return nil
	}
	var b []byte
	if r.Body != nil {
		var err error
		b, err = readAll(r.Body, r.ContentLength, max, res)
		if err != nil {
			if errors.Is(err, errBudget) {
				return res.exhausted()
			}
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return tooLarge()
			}
			return problem.Wrap(http.StatusBadRequest, ReasonBodyUnreadable, "the request body could not be read", err)
		}
		if int64(len(b)) > max {
			return tooLarge()
		}
		_ = r.Body.Close()
	}
	if b == nil {
		b = []byte{}
	}
	st.Bytes, st.Read = b, true
	st.replay.Reset(b)
	r.Body = &st.replay
	return nil
}

// gunzip decompresses b, stopping one byte past max so that a bomb costs
// at most max+1 bytes of memory, reserved from res.
func gunzip(b []byte, max int64, res *reservation) ([]byte, *problem.Problem) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, problem.Wrap(http.StatusBadRequest, ReasonEncodingInvalid, "the gzip body is malformed", err)
	}
	out, err := readAll(zr, 0, max, res)
	if errors.Is(err, errBudget) {
		return nil, res.exhausted()
	}
	if err != nil {
		return nil, problem.Wrap(http.StatusBadRequest, ReasonEncodingInvalid, "the gzip body is malformed", err)
	}
	if int64(len(out)) > max {
		return nil, tooLarge()
	}
	return out, nil
}

// readAll reads at most max+1 bytes of r; a caller sees more than max bytes
// as over the limit. hint, when positive, is the expected size. Buffer
// capacity is reserved from res before it is allocated (errBudget when it
// cannot be), so the budget counts the memory held, growth included.
func readAll(r io.Reader, hint, max int64, res *reservation) ([]byte, error) {
	size := min(max+1, firstRead)
	if hint > 0 && hint <= max {
		size = hint + 1 // the extra byte sees EOF without growing
	}
	if !res.grow(size) {
		return nil, errBudget
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > max {
				return b, nil
			}
			next := min(2*int64(cap(b)), max+1)
			if !res.grow(next - int64(cap(b))) {
				return nil, errBudget
			}
			b = append(make([]byte, 0, next), b...)
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// firstRead is the first buffer of a body of unknown length.
const firstRead = 32 << 10
