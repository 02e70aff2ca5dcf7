package body

import (
	"bytes"
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// CheckRequestLimits checks the header count and the lengths of the request
// target and query against l. It returns a 431 problem (too_many_headers) or
// a 414 problem (query_too_long, uri_too_long), or nil. Header bytes are
// bounded by the server's MaxHeaderBytes, not here.
func CheckRequestLimits(r *http.Request, l config.Limits) error {
	fields := 0
	for _, v := range r.Header {
		fields += len(v)
	}
	if fields > l.MaxHeaders {
		return problem.New(http.StatusRequestHeaderFieldsTooLarge, ReasonTooManyHeaders, "the request has too many header fields")
	}
	if int64(len(r.URL.RawQuery)) > int64(l.MaxQueryBytes) {
		return problem.New(http.StatusRequestURITooLong, ReasonQueryTooLong, "the query string exceeds the length limit")
	}
	target := r.RequestURI
	if target == "" { // a client-side request, as in tests
		target = r.URL.RequestURI()
	}
	if int64(len(target)) > int64(l.MaxURLBytes) {
		return problem.New(http.StatusRequestURITooLong, ReasonURITooLong, "the request target exceeds the length limit")
	}
	return nil
}

// Buffered is the body of a request once a stage read it.
type Buffered struct {
	// Bytes are the body as received; Read tells whether it was read. The
	// proxy then forwards exactly these bytes.
	Bytes []byte
	Read  bool
	// Plain is Bytes with Content-Encoding undone (the same slice when the
	// body is not encoded); validation and the policy read it. Nil until
	// [Read] ran.
	Plain []byte

	// replay is the request's body once read: a reader over Bytes, part of
	// the request's parts, so it costs no allocation of its own.
	replay replay
	// guard is the limited body [Guard] hands on.
	guard eofReader
}

// replay is r.Body once a stage read it: a reader over the bytes. Close
// does nothing. (The proxy forwards Bytes with a reader of its own.)
type replay struct{ bytes.Reader }

func (*replay) Close() error { return nil }

// Part is the request's Buffered body.
var Part = pipeline.NewPart[Buffered]()

// PlainBytes is the decoded body, or the body as received when only
// [Budget.Buffer] read it.
func (b *Buffered) PlainBytes() []byte {
	if b.Plain == nil {
		return b.Bytes
	}
	return b.Plain
}

// CheckRouteLimits applies a route's stricter header count, target and query
// lengths once the route is known; the global ones ran before routing
// ([CheckRequestLimits]) and config validation refuses a route value above
// its global one. It does nothing when the route keeps the global values.
func CheckRouteLimits(r *http.Request, global, route config.Limits) error {
	if route.MaxHeaders == global.MaxHeaders && route.MaxURLBytes == global.MaxURLBytes && route.MaxQueryBytes == global.MaxQueryBytes {
		return nil
	}
	return CheckRequestLimits(r, route)
}
