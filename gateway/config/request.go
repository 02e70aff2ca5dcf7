package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Request configures what the gateway accepts in, and removes from, every
// request before the policy judges it.
type Request struct {
	// MethodOverride is what happens to X-HTTP-Method-Override,
	// X-Method-Override, X-HTTP-Method and a _method query parameter:
	// "strip" (default) removes them, "reject" answers 400, "judge" gives the
	// overridden method to the policy (input.request.method) and forwards it.
	MethodOverride string `yaml:"method_override"`
	// ForwardingHeaders are added to the built-in list of headers that only
	// a trusted proxy may send (X-Real-IP, X-Original-URL, ...).
	ForwardingHeaders []string `yaml:"forwarding_headers"`
	// SecretQueryParams are query parameter names whose values are secrets:
	// they are removed from the policy input and the decision log on every
	// route (forwarding is unchanged). Names match case-insensitively with
	// "-", "_", "." and " " ignored, so "access_token" also matches
	// "Access-Token" and "accessToken". The list extends
	// DefaultSecretQueryParams; the defaults cannot be removed.
	SecretQueryParams []string `yaml:"secret_query_params"`
}

func (c *Config) validateRequest(ch *checker) {
	ch.oneOf("listen.headers_with_underscores", c.Listen.HeadersWithUnderscores, "drop", "reject", "allow")
	ch.oneOf("request.method_override", c.Request.MethodOverride, "strip", "reject", "judge")
	for i, h := range c.Request.ForwardingHeaders {
		if !isToken(h) {
			ch.add(fmt.Sprintf("request.forwarding_headers[%d]", i), "%q is not a header name", h)
		}
	}
	for i := range c.Routes {
		for j, u := range c.Routes[i].Upgrade {
			ch.oneOf(fmt.Sprintf("routes[%d].upgrade[%d]", i, j), u, "websocket")
		}
	}
}

// isToken reports whether s is an RFC 9110 token, the form of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// DefaultSecretQueryParams are the query parameters always treated as
// secret: OAuth and OIDC tokens, API keys, passwords, client secrets and
// the signatures of pre-signed URLs. Besides these, every name whose
// folded form ends in "token", "secret", "password" or "passwd" is secret
// (see the secret-query matcher in gateway/authn).
var DefaultSecretQueryParams = []string{
	"access_token", "token", "id_token", "refresh_token", "jwt", "assertion", "client_assertion",
	"api_key", "apikey", "key", "auth", "authorization", "credential", "credentials",
	"password", "passwd", "pwd", "secret", "client_secret",
	"signature", "sig", "x-amz-signature", "x-amz-credential", "x-goog-signature", "x-goog-credential",
	"session", "sessionid", "session_id", "otp", "samlresponse",
}

// withDefaultSecrets puts the default secret query parameters first,
// followed by the configured ones that are not among them.
func (r *Request) withDefaultSecrets() {
	all := slices.Clone(DefaultSecretQueryParams)
	for _, n := range r.SecretQueryParams {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	r.SecretQueryParams = all
}

func (r *Request) validate(ch *checker) {
	for _, n := range r.SecretQueryParams {
		if strings.TrimSpace(n) == "" {
			ch.add("request.secret_query_params", "%q is empty (want a parameter name)", n)
		}
	}
}

var templateVarPart = regexp.MustCompile(`\{[^}]*\}`)

// validateLowercase checks that, with paths.lowercase, a route's literal
// path parts are lower case: an upper-case one could never match.
func (c *Config) validateLowercase(ch *checker, p string, r *Route) {
	if !c.Paths.Lowercase {
		return
	}
	for field, v := range map[string]string{".match.path_prefix": r.Match.PathPrefix, ".match.path": r.Match.Path, ".strip_prefix": r.StripPrefix} {
		if lit := templateVarPart.ReplaceAllString(v, ""); lit != strings.ToLower(lit) {
			ch.add(p+field, "%q (want lower case: paths.lowercase is set)", v)
		}
	}
}
