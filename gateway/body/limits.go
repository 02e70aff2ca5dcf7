// Package body bounds request bodies and the parsers that read them: size, encoding, JSON depth and key count.
package body

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Stable reason codes of the problems this package returns.
const (
	ReasonBodyTooLarge       = "body_too_large"
	ReasonLengthRequired     = "length_required"
	ReasonEncodingNotAllowed = "encoding_not_allowed"
	ReasonEncodingInvalid    = "encoding_invalid"
	ReasonBodyUnreadable     = "body_unreadable"
	ReasonJSONTooDeep        = "json_too_deep"
	ReasonJSONTooManyKeys    = "json_too_many_keys"
	ReasonJSONDuplicateKey   = "json_duplicate_key"
	ReasonJSONTrailingData   = "json_trailing_data"
	ReasonContentTypeAmbig   = "content_type_ambiguous"
	ReasonTooManyHeaders     = "too_many_headers"
	ReasonURITooLong         = "uri_too_long"
	ReasonQueryTooLong       = "query_too_long"
)

// limits is the part of config.Limits the body stages read, taken as it is:
// config.Load sets every field (gateway/config/defaults.go holds the
// defaults), and a zero means zero (max_body_bytes: 0 admits no body).
type limits struct {
	maxBody      int64
	requireCL    bool
	allowEncoded bool
	maxDepth     int
	maxKeys      int
}

func normalize(l config.Limits) limits {
	return limits{
		maxBody:      int64(l.MaxBodyBytes),
		requireCL:    l.RequireContentLength != nil && *l.RequireContentLength,
		allowEncoded: l.AllowEncodedBody != nil && *l.AllowEncodedBody,
		maxDepth:     l.MaxJSONDepth,
		maxKeys:      l.MaxJSONKeys,
	}
}

// tooLarge is the 413 for a body over the limit, before or after decompression.
func tooLarge() *problem.Problem {
	return problem.New(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "the request body exceeds the size limit")
}
