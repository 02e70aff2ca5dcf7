package body

import (
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/gateway/problem"
)

// isGzip reports whether the request's Content-Encoding is exactly one gzip
// layer; identity (or none) is plain. Anything else, including stacked
// encodings, is a 415 problem, and so is gzip when allowGzip is false.
func isGzip(h http.Header, allowGzip bool) (bool, *problem.Problem) {
	gz := false
	for _, v := range h["Content-Encoding"] { // = h.Values of the canonical name
		for tok := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "", "identity":
			case "gzip", "x-gzip":
				if !allowGzip || gz { // one layer only: nested layers multiply the bomb ratio
					return false, notAllowed()
				}
				gz = true
			default:
				return false, notAllowed()
			}
		}
	}
	return gz, nil
}

func notAllowed() *problem.Problem {
	return problem.New(http.StatusUnsupportedMediaType, ReasonEncodingNotAllowed, "this content encoding is not accepted")
}
