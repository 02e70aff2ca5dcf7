package jwt

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are malformed.
const maxNumericDate = 253402300799

// validity holds the time claims of a verified token; a zero time means
// the claim is absent. It is kept with cached identities so every cache
// hit re-checks them against the clock.
type validity struct {
	exp, nbf, iat time.Time
}

// numericDate reads claim name as an RFC 7519 NumericDate. Only JSON
// numbers are accepted: a string "exp" is malformed, never ignored.
func numericDate(claims map[string]any, name string) (time.Time, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, nil
	}
	var f float64
	switch n := v.(type) {
	case json.Number: // as decodeObject gives it
		var err error
		f, err = n.Float64()
		ok = err == nil
	case float64:
		f = n
	default:
		ok = false
	}
	if !ok || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, problem.Unauthorized(ReasonMalformed, "the token's "+name+" claim is not a valid NumericDate", nil)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// check compares the time claims with now, allowing iss's clock skew.
func (v validity) check(now time.Time, iss *issuer) error {
	skew := iss.skew
	switch {
	case !v.exp.IsZero() && !now.Before(v.exp.Add(skew)):
		return problem.Unauthorized(ReasonExpired, "the token has expired", nil)
	case !v.nbf.IsZero() && now.Before(v.nbf.Add(-skew)):
		return problem.Unauthorized(ReasonNotYetValid, "the token is not valid yet", nil)
	case !v.iat.IsZero() && v.iat.After(now.Add(skew)):
		return problem.Unauthorized(ReasonIssuedInFuture, "the token was issued in the future", nil)
	case iss.maxAge > 0 && now.Sub(v.iat) > iss.maxAge+skew:
		return problem.Unauthorized(ReasonTooOld, "the token is older than allowed", nil)
	}
	return nil
}

// validateClaims checks the claims of a token whose signature is valid and
// returns its validity window. Checks run in a fixed order: types, required
// claims, times, audience.
func validateClaims(claims map[string]any, iss *issuer, now time.Time) (validity, error) {
	var v validity
	var err error
	if v.exp, err = numericDate(claims, "exp"); err != nil {
		return v, err
	}
	if v.nbf, err = numericDate(claims, "nbf"); err != nil {
		return v, err
	}
	if v.iat, err = numericDate(claims, "iat"); err != nil {
		return v, err
	}
	if sub, ok := claims["sub"]; ok {
		if _, isStr := sub.(string); !isStr {
			return v, problem.Unauthorized(ReasonMalformed, "the token's sub claim is not a string", nil)
		}
	}
	aud, ok := stringOrList(claims["aud"])
	if !ok {
		return v, problem.Unauthorized(ReasonMalformed, "the token's aud claim is not a string or a list of strings", nil)
	}
	for _, name := range iss.required {
		if _, ok := claims[name]; !ok {
			return v, problem.Unauthorized(ReasonClaimMissing, "the token lacks the required claim "+name, nil)
		}
	}
	if iss.maxAge > 0 && v.iat.IsZero() {
		return v, problem.Unauthorized(ReasonClaimMissing, "the token lacks the required claim iat", nil)
	}
	if err := v.check(now, iss); err != nil {
		return v, err
	}
	if len(iss.audiences) > 0 && !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(iss.audiences, a) }) {
		return v, problem.Unauthorized(ReasonAudienceMismatch, "the token is not meant for this audience", nil)
	}
	return v, nil
}

// stringOrList reads a claim that is a string or an array of strings; nil
// (absent) is an empty list. ok is false for any other shape.
func stringOrList(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// stringsOf returns the string members of a claim that is a string or an
// array; non-string members are skipped. When split is set, a string is
// split on spaces (OAuth scope syntax).
func stringsOf(v any, split bool) []string {
	switch v := v.(type) {
	case string:
		if split {
			return strings.Fields(v)
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// compact returns a copy of claims whose strings, object keys included,
// are slices of one string. The claims of a verified token live in the
// token cache, and every object there is one more the collector marks on
// every cycle: a decoded token has about 43, and 10 000 of them made 84 %
// of the gateway's live objects; compacted, about 13. Numbers keep their
// text in the one allocation too; a string or number value still needs a
// box of its own.
func compact(claims map[string]any) map[string]any {
	var b strings.Builder
	b.Grow(textLen(claims))
	// With the room grown beforehand the builder never moves its bytes, so
	// every string it has returned stays a slice of the one allocation.
	str := func(s string) string {
		start := b.Len()
		b.WriteString(s)
		return b.String()[start:]
	}
	var cp func(v any) any
	cp = func(v any) any {
		switch v := v.(type) {
		case string:
			return str(v)
		case json.Number:
			return json.Number(str(string(v)))
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = cp(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, e := range v {
				out[str(k)] = cp(e)
			}
			return out
		}
		return v
	}
	return cp(claims).(map[string]any)
}

// textLen is the length of v's strings, object keys included.
func textLen(v any) int {
	n := 0
	switch v := v.(type) {
	case string:
		n = len(v)
	case json.Number:
		n = len(v)
	case []any:
		for _, e := range v {
			n += textLen(e)
		}
	case map[string]any:
		for k, e := range v {
			n += len(k) + textLen(e)
		}
	}
	return n
}

// identity builds the identity of a verified token. Its slices are clipped
// so that an append by a caller never writes into cached state.
func identity(claims map[string]any, iss *issuer, kid string, v validity) *policy.Identity {
	sub, _ := claims["sub"].(string)
	scopes := stringsOf(claims["scope"], true)
	if scopes == nil {
		scopes = stringsOf(claims["scp"], true)
	}
	// The identity and the cell for its JSON in one allocation: one
	// object less per cached token for the collector to mark.
	c := new(struct {
		id   policy.Identity
		json policy.Encoded
	})
	c.id = policy.Identity{
		Authenticated: true,
		Method:        policy.MethodJWT,
		Subject:       sub,
		Issuer:        iss.name,
		Groups:        slices.Clip(stringsOf(claims[iss.groupsClaim], false)),
		Scopes:        slices.Clip(scopes),
		Claims:        claims,
		KeyID:         kid,
		ExpiresAt:     v.exp,
		// No Memo: a policy value of every cached token would triple the
		// objects the garbage collector marks in a full cache (75 more per
		// token) and cost more than building it per request (about 3 µs).
		// The identity's JSON costs it nothing to mark: bytes, no pointers.
		JSON: &c.json,
	}
	return &c.id
}

// issuerName reads the unverified iss claim, used only to pick the issuer.
func issuerName(claims map[string]any) (string, error) {
	v, ok := claims["iss"]
	if !ok {
		return "", problem.Unauthorized(ReasonClaimMissing, "the token lacks the required claim iss", nil)
	}
	s, ok := v.(string)
	if !ok {
		return "", problem.Unauthorized(ReasonMalformed, "the token's iss claim is not a string", nil)
	}
	return s, nil
}
