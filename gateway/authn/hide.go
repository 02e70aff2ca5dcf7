package authn

import (
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/gateway/header"
)

// hide removes the credential f from r, so the upstream never sees it.
func hide(r *http.Request, f found) {
	switch f.cred.Source {
	case sourceHeader:
		header.Del(r.Header, f.name)
	case sourceQuery:
		r.URL.RawQuery = withoutParam(r.URL.RawQuery, f.name)
	case sourceCookie:
		withoutCookie(r.Header, f.name) // every spelling: f.name is folded
	}
}

// withoutParam returns the raw query without the parameters named name,
// leaving every other parameter exactly as the client encoded it.
func withoutParam(raw, name string) string {
	var b strings.Builder
	for pair := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if key, ok := queryKey(k); ok && key == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}
