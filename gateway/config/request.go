package config

import (
	"regexp"
	"slices"
	"strings"
)

// Request configures what the gateway treats as secret in a request.
type Request struct {
	// SecretQueryParams are query parameter names whose values are secrets:
	// they are removed from the policy input and the decision log on every
	// route (forwarding is unchanged). Names match case-insensitively with
	// "-", "_", "." and " " ignored, so "access_token" also matches
	// "Access-Token" and "accessToken". The list extends
	// DefaultSecretQueryParams; the defaults cannot be removed.
	SecretQueryParams []string `yaml:"secret_query_params"`
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
