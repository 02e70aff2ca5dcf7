// Package body bounds request bodies and the parsers that read them: size, encoding, JSON depth and key count.
package body

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Defaults used when a field of [config.Limits] is zero, so that a Limits
// built by hand (tests, an integrator skipping config.Load) is still bounded.
// They match the config package's documented defaults.
const (
	DefaultMaxBodyBytes  = 1 << 20
	DefaultMaxHeaders    = 100
	DefaultMaxURLBytes   = 8 << 10
	DefaultMaxQueryBytes = 4 << 10
	DefaultMaxJSONDepth  = 32
	DefaultMaxJSONKeys   = 10000
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

// limits is config.Limits with every zero field replaced by its default.
type limits struct {
	maxBody      int64
	requireCL    bool
	allowEncoded bool
	maxHeaders   int
	maxURL       int
	maxQuery     int
	maxDepth     int
	maxKeys      int
}

func normalize(l config.Limits) limits {
	n := limits{
		maxBody:  int64(l.MaxBodyBytes),
		maxDepth: l.MaxJSONDepth, maxKeys: l.MaxJSONKeys,
		maxHeaders: l.MaxHeaders, maxURL: int(l.MaxURLBytes), maxQuery: int(l.MaxQueryBytes),
	}
	if n.maxBody <= 0 {
		n.maxBody = DefaultMaxBodyBytes
	}
	if n.maxHeaders <= 0 {
		n.maxHeaders = DefaultMaxHeaders
	}
	if n.maxURL <= 0 {
		n.maxURL = DefaultMaxURLBytes
	}
	if n.maxQuery <= 0 {
		n.maxQuery = DefaultMaxQueryBytes
	}
	if n.maxDepth <= 0 {
		n.maxDepth = DefaultMaxJSONDepth
	}
	if n.maxKeys <= 0 {
		n.maxKeys = DefaultMaxJSONKeys
	}
	n.requireCL = l.RequireContentLength != nil && *l.RequireContentLength
	n.allowEncoded = l.AllowEncodedBody != nil && *l.AllowEncodedBody
	return n
}

// tooLarge is the 413 for a body over the limit, before or after decompression.
func tooLarge() *problem.Problem {
	return problem.New(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "the request body exceeds the size limit")
}
