package authn

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cookie names are case-sensitive in RFC 6265, but backends disagree:
// ASP.NET compares them ignoring case (its ordinal upper-casing turns
// "ſ" into "S" and "ı" into "I"), PHP percent-decodes them and turns "."
// and " " into "_", Go and most others trim the whitespace around them,
// and RFC 2109 servers split on "," as well as ";". So that no backend
// can find a credential cookie the gateway did not verify, the gateway
// compares the folded names (cookieKey) and counts every spelling of the
// credential cookie as the credential: two of them are ambiguous, and
// hiding removes all of them.

// cookieKey appends the folded form of a cookie name to b: surrounding
// whitespace removed, percent-decoded, "." and " " made "_", and every
// letter lower-cased, a non-ASCII one whose simple case mapping is ASCII
// included.
func cookieKey(b []byte, name string) []byte {
	name = strings.Trim(name, " \t")
	if strings.ContainsAny(name, "%+") {
		if d, err := url.QueryUnescape(name); err == nil {
			name = d
		}
	}
	for _, r := range name {
		switch {
		case r == '.' || r == ' ':
			r = '_'
		case r >= utf8.RuneSelf:
			if u := unicode.ToUpper(r); u < utf8.RuneSelf {
				r = u
			} else if l := unicode.ToLower(r); l < utf8.RuneSelf {
				r = l
			}
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// isCookie reports whether the name of a cookie pair (the text before
// "=") folds to key, the folded credential cookie name.
func isCookie(name, key string) bool {
	var buf [64]byte
	return string(cookieKey(buf[:0], name)) == key
}

// cookieValue is the value of a credential cookie: the whitespace around
// it and one pair of double quotes removed.
func cookieValue(v string) string {
	v = strings.Trim(v, " \t")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v
}

// credentialCookies returns the values of every spelling of the cookie
// whose folded name is key, in all Cookie header lines; hidden is set
// when one hides after a "," inside another cookie's value, where an
// RFC 2109 parser finds it and an RFC 6265 one does not.
func credentialCookies(h http.Header, key string, vals []string) (_ []string, hidden bool) {
	for _, line := range h.Values("Cookie") {
		for part := range strings.SplitSeq(line, ";") {
			name, val, _ := strings.Cut(part, "=")
			if isCookie(name, key) {
				vals = append(vals, cookieValue(val))
				continue
			}
			for piece := range strings.SplitSeq(part, ",") {
				if n, _, _ := strings.Cut(piece, "="); isCookie(n, key) {
					hidden = true
				}
			}
		}
	}
	return vals, hidden
}

// withoutCookie rewrites the Cookie header lines without the cookies
// whose folded name is key; lines left empty are dropped.
func withoutCookie(h http.Header, key string) {
	lines := h.Values("Cookie")
	kept := make([]string, 0, len(lines))
	for _, line := range lines {
		var parts []string
		for part := range strings.SplitSeq(line, ";") {
			p := strings.TrimSpace(part)
			if n, _, _ := strings.Cut(p, "="); p == "" || isCookie(n, key) {
				continue
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	h.Del("Cookie")
	for _, l := range kept {
		h.Add("Cookie", l)
	}
}
