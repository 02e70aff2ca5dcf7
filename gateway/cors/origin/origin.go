// Package origin parses and matches the allowed origins of a CORS route.
//
// It is a leaf package so that gateway/config reports a bad entry with the
// parser gateway/cors matches with.
package origin

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Any is the pattern that allows every origin.
const Any = "*"

// Set is the allowed origins of one route, built once by [NewSet].
type Set struct {
	any   bool
	exact map[string]struct{}
	wild  []wildcard
}

// wildcard is "scheme://*.suffix[:port]": suffix starts with a dot.
type wildcard struct {
	scheme, suffix, port string
}

// EntryError is the problem with the pattern at Index.
type EntryError struct {
	Index int
	Err   error
}

func (e *EntryError) Error() string { return fmt.Sprintf("[%d]: %v", e.Index, e.Err) }

func (e *EntryError) Unwrap() error { return e.Err }

// NewSet parses the patterns. Each is "*", an origin as browsers
// serialize it (scheme://host[:port], no path, the scheme's default port
// left out), or one whose host starts with the wildcard label "*."
// ("https://*.example.com" allows every subdomain of example.com, at any
// depth, with that scheme and port, and not example.com itself). "*" must
// be alone: it allows every origin, so anything beside it is a mistake.
// The error joins an [EntryError] per bad pattern.
func NewSet(patterns []string) (*Set, error) {
	s := &Set{exact: make(map[string]struct{}, len(patterns))}
	var errs []error
	for i, p := range patterns {
		if p == Any {
			if len(patterns) > 1 {
				errs = append(errs, &EntryError{i, fmt.Errorf("%q allows every origin and must be the only entry", p)})
			}
			s.any = true
			continue
		}
		w, exact, err := parse(p)
		switch {
		case err != nil:
			errs = append(errs, &EntryError{i, err})
		case exact != "":
			s.exact[exact] = struct{}{}
		default:
			s.wild = append(s.wild, w)
		}
	}
	if len(patterns) == 0 {
		errs = append(errs, errors.New("at least one origin is required"))
	}
	return s, errors.Join(errs...)
}

// AllowsAny tells whether the set is "*".
func (s *Set) AllowsAny() bool { return s.any }

// parse returns the wildcard of pattern, or exact: its lower-case form.
func parse(pattern string) (w wildcard, exact string, err error) {
	if pattern == "null" {
		// Sandboxed documents, file: pages and redirects all send "null":
		// allowing it allows anyone who can make such a page.
		return w, "", errors.New(`"null" cannot be allowed: any sandboxed page or file can send it`)
	}
	p := strings.ToLower(pattern)
	scheme, host, port, ok := split(p)
	if !ok {
		return w, "", fmt.Errorf("%q is not an origin (want scheme://host[:port], no path, as in \"https://app.example.com\")", pattern)
	}
	if port != "" && port == defaultPort(scheme) {
		return w, "", fmt.Errorf("%q names the default port: browsers leave it out, so write %q", pattern, scheme+"://"+host)
	}
	suffix, wild := strings.CutPrefix(host, "*.")
	if !wild {
		if strings.Contains(host, "*") || !validHost(host) {
			return w, "", fmt.Errorf("%q: host %q is not a DNS name or IP address (only a leading \"*.\" label is a wildcard)", pattern, host)
		}
		return w, p, nil
	}
	if !validName(suffix) || strings.Contains(suffix, "*") {
		return w, "", fmt.Errorf("%q: %q after the wildcard is not a DNS name", pattern, suffix)
	}
	if !strings.Contains(suffix, ".") {
		return w, "", fmt.Errorf("%q would allow every name under the top-level domain %q", pattern, suffix)
	}
	return wildcard{scheme: scheme, suffix: "." + suffix, port: port}, "", nil
}

// Match tells whether origin, the value of a request's Origin header, is
// allowed. Scheme and host compare without regard to case, the port exactly.
func (s *Set) Match(origin string) bool {
	o := lower(origin)
	if _, ok := s.exact[o]; ok {
		return true
	}
	if !s.any && len(s.wild) == 0 {
		return false
	}
	scheme, host, port, ok := split(o)
	if !ok || !validHost(host) {
		return false
	}
	if s.any {
		return true
	}
	for _, w := range s.wild {
		if w.scheme != scheme || w.port != port || len(host) <= len(w.suffix) || !strings.HasSuffix(host, w.suffix) {
			continue
		}
		// The labels in front of the suffix must be a name: "a..example.com"
		// and ".example.com" are not subdomains.
		if validName(host[:len(host)-len(w.suffix)]) {
			return true
		}
	}
	return false
}

// split cuts a lower-case origin into scheme, host and port ("" when
// absent); ok is false for anything but scheme://host[:port].
func split(o string) (scheme, host, port string, ok bool) {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || !validScheme(scheme) || rest == "" || strings.ContainsAny(rest, "/?#@\\ \t") {
		return "", "", "", false
	}
	host = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return "", "", "", false
		}
	}
	return scheme, host, port, host != ""
}

func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validHost accepts a DNS name, an IPv4 address or a bracketed IPv6
// address without a zone.
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(h[1:], "]"))
		return strings.HasSuffix(h, "]") && err == nil && a.Is6() && a.Zone() == ""
	}
	return validName(h)
}

// validName accepts dot-separated labels of letters, digits and hyphens
// (IPv4 addresses included; internationalized names arrive as punycode).
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// lower is strings.ToLower for ASCII without allocating when s has no
// upper-case letter (browsers send lower-case origins).
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
