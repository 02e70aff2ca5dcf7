package authn

import "strings"

// SecretQuery matches the query parameters whose values are secrets, so
// that they stay out of the policy input and the decision log on every
// route, whether or not the route reads them.
//
// A name is folded before it is compared: ASCII letters are lowered and
// "-", "_", "." and " " dropped (PHP turns "." and " " into "_"; camelCase
// and kebab-case spell the same parameter), so "access_token",
// "Access-Token" and "accessToken" are one name. A bracketed name such as
// "user[password]" or "api_key[]" (PHP and Rails arrays and hashes) is
// secret when any of its parts is. Besides the configured names, every
// name whose folded form ends in one of secretSuffixes is secret.
type SecretQuery struct {
	names map[string]bool
}

// secretSuffixes are the folded name endings that always mean a secret
// (auth_token, x-amz-security-token, githubToken, app_secret, new_password).
var secretSuffixes = []string{"token", "secret", "password", "passwd"}

// NewSecretQuery builds the matcher for the configured names
// (config.Request.SecretQueryParams, the defaults included).
func NewSecretQuery(names []string) *SecretQuery {
	s := &SecretQuery{names: make(map[string]bool, len(names))}
	for _, n := range names {
		var buf [64]byte
		s.names[string(foldName(buf[:0], n))] = true
	}
	return s
}

// Is reports whether the decoded query parameter name is secret.
func (s *SecretQuery) Is(name string) bool {
	for part := range strings.FieldsFuncSeq(name, func(r rune) bool { return r == '[' || r == ']' }) {
		var buf [64]byte
		f := foldName(buf[:0], part)
		if s.names[string(f)] {
			return true
		}
		for _, suf := range secretSuffixes {
			if len(f) >= len(suf) && string(f[len(f)-len(suf):]) == suf {
				return true
			}
		}
	}
	return false
}

// foldName appends the folded form of name to b.
func foldName(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '-' || c == '_' || c == '.' || c == ' ':
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return b
}
