package header

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// methodOverride applies request.method_override to the override headers
// (inHeaders: the request has one, in some spelling) and the _method query
// parameter. "strip" removes them, "reject" refuses the request, "judge"
// makes the overridden method req.Method (the wire method stays in
// req.WireMethod) and forwards the override as it came; overrides that
// disagree, or are not a method token, are refused then.
//
// A _method field in a form body is not looked at: reading the body before
// authentication is what issue 12 class 4 forbids. See the README.
func (c *Cleaner) methodOverride(r *http.Request, req *policy.Request, inHeaders bool) error {
	inQuery := r.URL.RawQuery != "" && hasOverrideParam(r.URL.RawQuery)
	if !inHeaders && !inQuery {
		return nil
	}
	switch c.override {
	case "reject":
		return problem.New(http.StatusBadRequest, ReasonOverrideRejected, "method override headers and parameters are not accepted")
	case "judge":
		m, ok := c.overriddenMethod(r, inQuery)
		if !ok {
			return problem.New(http.StatusBadRequest, ReasonOverrideInvalid, "the method override is not one method")
		}
		if m != "" {
			req.Method = m
		}
		return nil
	}
	if inHeaders {
		for k := range r.Header {
			if c.kind(k)&kindOverride != 0 {
				delete(r.Header, k)
			}
		}
	}
	if inQuery {
		r.URL.RawQuery = withoutOverrideParam(r.URL.RawQuery)
	}
	return nil
}

// overriddenMethod returns the one method all overrides name, upper-cased
// as Rails and Express do; ok is false when they disagree or one is not a
// token.
func (c *Cleaner) overriddenMethod(r *http.Request, inQuery bool) (string, bool) {
	var m string
	take := func(v string) bool {
		v = strings.TrimSpace(v)
		if !isMethod(v) {
			return false
		}
		v = strings.ToUpper(v)
		if m != "" && m != v {
			return false
		}
		m = v
		return true
	}
	for k, vs := range r.Header {
		if c.kind(k)&kindOverride == 0 {
			continue
		}
		for _, v := range vs {
			if !take(v) {
				return "", false
			}
		}
	}
	if inQuery {
		for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
			for part := range strings.SplitSeq(pair, ";") {
				k, v, _ := strings.Cut(part, "=")
				if !isOverrideParam(k) {
					continue
				}
				val, err := url.QueryUnescape(v)
				if err != nil || !take(val) {
					return "", false
				}
			}
		}
	}
	return m, true
}

// isMethod reports whether s is a method token (RFC 9110 §9.1) of letters,
// the only kind a framework maps to a handler.
func isMethod(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func hasOverrideParam(raw string) bool {
	for pair := range strings.SplitSeq(raw, "&") {
		if pairOverrides(pair) {
			return true
		}
	}
	return false
}

// pairOverrides reports whether a "&"-separated query pair is a _method
// parameter, or holds one after a ";" (Rack before 3.0 and some Java
// servers also split on ";").
func pairOverrides(pair string) bool {
	for part := range strings.SplitSeq(pair, ";") {
		if k, _, _ := strings.Cut(part, "="); isOverrideParam(k) {
			return true
		}
	}
	return false
}

// isOverrideParam reports whether the raw query key k names _method once
// decoded, in any case, and with the first character written as PHP also
// reads it ("." , " " and "[" become "_" in PHP's variable names).
func isOverrideParam(k string) bool {
	if !strings.ContainsAny(k, "%+") && len(k) != len(MethodOverrideParam) {
		return false
	}
	key, err := url.QueryUnescape(k)
	if err != nil {
		// Undecodable: it cannot be _method to Go, and a lenient backend
		// might still read one; treat it as one.
		return strings.Contains(strings.ToLower(k), "method")
	}
	if len(key) != len(MethodOverrideParam) {
		return false
	}
	switch key[0] {
	case '_', '.', ' ', '[':
	default:
		return false
	}
	return strings.EqualFold(key[1:], MethodOverrideParam[1:])
}

// withoutOverrideParam returns raw without its _method parameters, every
// other parameter exactly as the client encoded it.
func withoutOverrideParam(raw string) string {
	var b strings.Builder
	for pair := range strings.SplitSeq(raw, "&") {
		if pairOverrides(pair) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}
