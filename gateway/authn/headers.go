package authn

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
)

// claimHeader copies one claim to one upstream header.
type claimHeader struct {
	claim, header string
}

// claimHeaders turns a claims_to_headers map into a list sorted by claim,
// so that two claims mapped to one header resolve the same way every time.
func claimHeaders(m map[string]string) []claimHeader {
	out := make([]claimHeader, 0, len(m))
	for claim, h := range m {
		out = append(out, claimHeader{claim, http.CanonicalHeaderKey(h)})
	}
	slices.SortFunc(out, func(a, b claimHeader) int { return strings.Compare(a.claim, b.claim) })
	return out
}

// IdentityHeaders returns every header the gateway sets from an identity:
// the claims_to_headers targets of all issuers and of introspection, the
// API-key consumer header and the identity-assertion header of every route,
// in canonical form. The stage removes them from
// every client request on every route, authenticated or not, so a client
// can never spoof them.
func IdentityHeaders(cfg *config.Config) []string {
	var hs []string
	for _, is := range cfg.Authn.JWT.Issuers {
		for _, h := range is.ClaimsToHeaders {
			hs = append(hs, http.CanonicalHeaderKey(h))
		}
	}
	if in := cfg.Authn.Introspection; in != nil {
		for _, h := range in.ClaimsToHeaders {
			hs = append(hs, http.CanonicalHeaderKey(h))
		}
	}
	if h := cfg.Authn.APIKeys.ConsumerHeader; h != "" {
		hs = append(hs, http.CanonicalHeaderKey(h))
	}
	for _, rt := range cfg.Routes {
		if a := rt.IdentityAssertion; a != nil {
			hs = append(hs, http.CanonicalHeaderKey(a.Header))
		}
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

// CredentialHeaders returns the headers that may carry a credential on
// route, in canonical form: Authorization, Cookie and the API-key header.
// The policy input must never contain them, whether or not the route hides
// credentials from the upstream.
func CredentialHeaders(cfg *config.Config, route *config.Route) []string {
	hs := []string{"Authorization", "Cookie"}
	if h := cfg.Authn.APIKeys.Header; h != "" {
		hs = append(hs, http.CanonicalHeaderKey(h))
	}
	return hs
}

// CredentialQuery returns the query parameters that may carry a credential
// on route: its bearer_query and the API-key parameter. The API-key
// parameter is listed even where the route does not accept it, because its
// value is a secret all the same. The policy input must never contain them.
func CredentialQuery(cfg *config.Config, route *config.Route) []string {
	var qs []string
	if q := cfg.Authn.APIKeys.Query; q != "" {
		qs = append(qs, q)
	}
	if q := route.Authn.BearerQuery; q != "" && !slices.Contains(qs, q) {
		qs = append(qs, q)
	}
	return qs
}

// claimValue formats a claim for a header: strings as they are, numbers and
// booleans formatted, arrays of those comma-joined; objects (and arrays of
// nothing else) give ok=false. Control characters, including CR, LF and NUL,
// are removed, so a claim can never split or end a header.
func claimValue(v any) (string, bool) {
	if a, ok := v.([]any); ok {
		parts := make([]string, 0, len(a))
		for _, e := range a {
			if s, ok := scalar(e); ok {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			return "", false
		}
		return stripControl(strings.Join(parts, ",")), true
	}
	if a, ok := v.([]string); ok {
		return stripControl(strings.Join(a, ",")), len(a) > 0
	}
	s, ok := scalar(v)
	return stripControl(s), ok
}

func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case bool:
		return strconv.FormatBool(t), true
	default:
		return "", false
	}
}

func stripControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

// isControl matches the characters a header value may not hold (RFC 9110
// §5.5 allows HTAB; we drop it too, for simplicity).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
