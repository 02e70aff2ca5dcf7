package body

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/problem"
)

// CheckContentType returns a 400 problem (content_type_ambiguous) when the
// request names more than one media type: two Content-Type field lines, or
// one whose value is a comma-separated list (a comma outside a quoted
// parameter value). Backends take the first, the last, or the whole line,
// so the validated and the parsed type could differ.
func CheckContentType(h http.Header) error {
	// The canonical name indexes the map directly: what h.Values looks
	// up, without canonicalizing it again on every request.
	v := h["Content-Type"]
	if len(v) > 1 || (len(v) == 1 && hasListComma(v[0])) {
		p := problem.New(http.StatusBadRequest, ReasonContentTypeAmbig, "the request has more than one Content-Type")
		p.InvalidParams = []problem.InvalidParam{{Name: "Content-Type", In: "header", Reason: "must name exactly one media type"}}
		return p
	}
	return nil
}

// hasListComma reports whether v holds a comma outside a quoted string
// (RFC 9110 §5.6.4, with quoted-pair).
func hasListComma(v string) bool {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return true
		}
	}
	return false
}

// ContentType is the request's first Content-Type value, h.Get of the
// canonical name without canonicalizing it again, "" when there is none.
func ContentType(h http.Header) string {
	if v := h["Content-Type"]; len(v) > 0 {
		return v[0]
	}
	return ""
}
