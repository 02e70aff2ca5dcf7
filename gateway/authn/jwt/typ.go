package jwt

import (
	"strings"

	"github.com/portcullis/portcullis/gateway/problem"
)

// checkType refuses a token whose typ header says it is a JWT of another
// profile than an access token. RFC 8725 §3.11 has each kind of JWT name
// itself with its own "<profile>+jwt" media type precisely so that one
// kind (a back-channel logout token "logout+jwt", a security event token
// "secevent+jwt", a DPoP proof "dpop+jwt", a signed introspection answer
// "token-introspection+jwt"...) cannot be replayed as another; the one for
// access tokens is "at+jwt" (RFC 9068 §2.1). A missing typ, "JWT" and
// other values without "+jwt" stay accepted: most issuers send those for
// access tokens, and an ID token, which also says "JWT", is kept out by
// the audience check instead. The comparison ignores case and an
// "application/" prefix (RFC 7515 §4.1.9), surrounding space and media
// type parameters.
func checkType(hdr map[string]any) error {
	v, ok := hdr["typ"]
	if !ok {
		return nil
	}
	typ, ok := v.(string)
	if !ok {
		return problem.Unauthorized(ReasonMalformed, "the token's typ is not a string", nil)
	}
	typ, _, _ = strings.Cut(typ, ";") // media type parameters
	typ = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(typ)), "application/")
	if strings.HasSuffix(typ, "+jwt") && typ != "at+jwt" {
		return problem.Unauthorized(ReasonTokenType, "the token is not an access token", nil)
	}
	return nil
}
