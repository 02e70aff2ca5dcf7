package input

import (
	"net/http"
	"strings"
)

// Arrive records what is known of r the moment it arrives, before a
// limit, the path check or the route lookup can end it, so that every
// decision-log event, a 404 or a 431 as much as an allow, says who asked
// for what: method, host, client address, scheme, and the path of the
// target as received (Doc.RawPath). The canonical path is set
// once normalization made it; until then input.request.path stays empty,
// never a path the gateway did not accept. A head the listener refused
// before net/http could parse it reaches ServeHTTP as a request built from
// that head (see listener.Refusal), so it records the same facts.
func Arrive(d *Doc, r *http.Request) {
	target := r.RequestURI
	if target == "" { // a client-side request, as in tests
		target = r.URL.RequestURI()
	}
	req := &d.Request
	req.Method = r.Method
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.Scheme = "http"
	if r.TLS != nil {
		req.Scheme = "https"
	}
	d.RawPath = targetPath(target)
}

// targetPath is the path of a request target, still escaped: the query
// (which may carry a credential) and, in absolute form, the scheme and
// authority (which may carry user:password@) are left out. Bytes that
// cannot appear in a valid target (controls, space, non-ASCII) are
// percent-encoded so the log shows them rather than a replacement
// character. An authority-form or asterisk-form target, which has no
// path, is kept without any userinfo.
func targetPath(target string) string {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if !strings.HasPrefix(target, "/") {
		if _, rest, ok := strings.Cut(target, "://"); ok {
			target = "/"
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				target = rest[i:]
			}
		} else if i := strings.LastIndexByte(target, '@'); i >= 0 {
			target = target[i+1:]
		}
	}
	return escapeUnsafe(target)
}

// escapeUnsafe percent-encodes the bytes of s outside visible ASCII; s
// itself is returned when there are none, as for any valid target.
func escapeUnsafe(s string) string {
	i := 0
	for i < len(s) && s[i] > ' ' && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0xf])
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"
