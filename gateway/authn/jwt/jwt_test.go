package jwt_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

func kidOf(t testing.TB, k jwk.Key) string {
	t.Helper()
	kid, _ := k.KeyID()
	return kid
}

func pemOf(t testing.TB, k jwk.Key) []byte {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwk.Pem(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// swapSignature replaces the signature of token with sig.
func swapSignature(token string, sig []byte) string {
	return token[:strings.LastIndexByte(token, '.')+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := e.keys
	mint := func(key jwk.Key, alg string, over, hdr map[string]any) string {
		iss, _ := over["iss"].(string)
		if iss == "" {
			iss = issRS
		}
		return gwtest.MintToken(t, key, alg, e.claims(iss, over), hdr)
	}
	valid := mint(k.rsa, "RS256", nil, nil)
	dotAt := strings.IndexByte(valid, '.')
	now := e.clock.Now().Unix()
	attacker := gwtest.NewECKey(t)
	attackerJWKS := gwtest.NewJWKSServer(t, attacker)
	attackerPub, err := attacker.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	nested := strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20)

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{name: "token over max_token_bytes is too large", token: strings.Repeat("a.", 20<<10) + "a", reason: jwt.ReasonTooLarge},
		{name: "five-part token is a JWE", token: "aaaa.bbbb.cccc.dddd.eeee", reason: jwt.ReasonJWE},
		{name: "header that is not JSON is malformed", token: gwtest.Forge("not json", `{}`, []byte("sig")), reason: jwt.ReasonMalformed},
		{name: "header that is an array is malformed", token: gwtest.Forge(`["alg"]`, `{}`, []byte("sig")), reason: jwt.ReasonMalformed},
		{name: "header without alg is malformed", token: gwtest.Forge(`{"typ":"JWT"}`, `{}`, []byte("sig")), reason: jwt.ReasonMalformed},
		{name: "header with a numeric alg is malformed", token: gwtest.Forge(`{"alg":256}`, `{}`, []byte("sig")), reason: jwt.ReasonMalformed},
		{name: "header with duplicate alg is malformed", token: gwtest.Forge(`{"alg":"RS256","alg":"none"}`, `{}`, nil), reason: jwt.ReasonMalformed},
		{name: "header with trailing data is malformed", token: gwtest.Forge(`{"alg":"RS256"}{}`, `{}`, nil), reason: jwt.ReasonMalformed},
		{name: "huge header is malformed", token: gwtest.Forge(`{"alg":"RS256","x":"`+strings.Repeat("x", 5000)+`"}`, `{}`, nil), reason: jwt.ReasonMalformed},
		{name: "non-canonical base64url header is malformed", token: nonCanonical(`{"alg":"RS256","kid":"x"}`) + valid[dotAt:], reason: jwt.ReasonMalformed},
		{name: "b64 header outside crit is malformed", token: mint(k.rsa, "RS256", nil, map[string]any{"b64": false}), reason: jwt.ReasonMalformed},
		{name: "payload that is not JSON is malformed", token: gwtest.Sign(t, k.rsa, "RS256", []byte(`{"alg":"RS256"}`), []byte("nope")), reason: jwt.ReasonMalformed},
		{name: "payload with duplicate sub is malformed", token: gwtest.Sign(t, k.rsa, "RS256", []byte(`{"alg":"RS256","kid":"`+kidOf(t, k.rsa)+`"}`), []byte(`{"iss":"`+issRS+`","sub":"alice","sub":"admin","aud":"api","exp":9999999999}`)), reason: jwt.ReasonMalformed},
		{name: "payload with escaped duplicate key is malformed", token: gwtest.Sign(t, k.rsa, "RS256", []byte(`{"alg":"RS256"}`), []byte(`{"iss":"`+issRS+`","\u0069ss":"x"}`)), reason: jwt.ReasonMalformed},
		{name: "deeply nested payload is malformed", token: mint(k.rsa, "RS256", map[string]any{"deep": jsonRaw(nested)}, nil), reason: jwt.ReasonMalformed},
		{name: "iss that is not a string is malformed", token: gwtest.Sign(t, k.rsa, "RS256", []byte(`{"alg":"RS256"}`), []byte(`{"iss":42}`)), reason: jwt.ReasonMalformed},
		{name: "exp as a string is malformed", token: mint(k.rsa, "RS256", map[string]any{"exp": "9999999999"}, nil), reason: jwt.ReasonMalformed},
		{name: "negative exp is malformed", token: mint(k.rsa, "RS256", map[string]any{"exp": -1}, nil), reason: jwt.ReasonMalformed},
		{name: "nbf as a bool is malformed", token: mint(k.rsa, "RS256", map[string]any{"nbf": true}, nil), reason: jwt.ReasonMalformed},
		{name: "sub that is not a string is malformed", token: mint(k.rsa, "RS256", map[string]any{"sub": []string{"a"}}, nil), reason: jwt.ReasonMalformed},
		{name: "aud array with a number is malformed", token: mint(k.rsa, "RS256", map[string]any{"aud": []any{"api", 1}}, nil), reason: jwt.ReasonMalformed},
		{name: "kid that is not a string is malformed", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": 7}), reason: jwt.ReasonMalformed},
		{name: "alg none is refused", token: mint(k.rsa, "none", nil, nil), reason: jwt.ReasonAlgNone},
		{name: "alg None is refused", token: mint(k.rsa, "None", nil, nil), reason: jwt.ReasonAlgNone},
		{name: "alg NONE is refused", token: mint(k.rsa, "NONE", nil, nil), reason: jwt.ReasonAlgNone},
		{name: "alg nOnE is refused", token: mint(k.rsa, "nOnE", nil, nil), reason: jwt.ReasonAlgNone},
		{name: "alg none with a signature is refused", token: swapSignature(mint(k.rsa, "none", nil, nil), []byte("sig")), reason: jwt.ReasonAlgNone},
		{name: "alg configured for no issuer is not allowed", token: mint(k.rsa, "RS512", nil, nil), reason: jwt.ReasonAlgNotAllowed},
		{name: "unknown alg is not allowed", token: gwtest.Forge(`{"alg":"XS999"}`, `{}`, []byte("sig")), reason: jwt.ReasonAlgNotAllowed},
		{name: "alg allowed elsewhere but not for the issuer is not allowed", token: mint(k.rsa, "PS256", map[string]any{"iss": issStatic}, map[string]any{"kid": nil}), reason: jwt.ReasonAlgNotAllowed},
		{name: "HS256 signed with the RSA public key PEM is a key/alg mismatch", token: mint(mustImport(t, pemOf(t, k.rsa)), "HS256", nil, map[string]any{"kid": kidOf(t, k.rsa)}), reason: jwt.ReasonKeyAlgMismatch},
		{name: "RS256 token for the HMAC issuer is a key/alg mismatch", token: mint(k.rsa, "RS256", map[string]any{"iss": issHS}, nil), reason: jwt.ReasonKeyAlgMismatch},
		{name: "RS256 header naming an EC key is a key/alg mismatch", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": kidOf(t, k.ec)}), reason: jwt.ReasonKeyAlgMismatch},
		{name: "ES256 header naming an Ed25519 key is a key/alg mismatch", token: mint(k.ec, "ES256", nil, map[string]any{"kid": kidOf(t, k.ed)}), reason: jwt.ReasonKeyAlgMismatch},
		{name: "unknown kid is refused", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": "nope"}), reason: jwt.ReasonUnknownKID},
		{name: "path traversal kid is only a map key", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": "../../dev/null"}), reason: jwt.ReasonUnknownKID},
		{name: "SQL kid is only a map key", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": "x' UNION SELECT 'secret' --"}), reason: jwt.ReasonUnknownKID},
		{name: "10 KB kid is refused", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": strings.Repeat("k", 10<<10)}), reason: jwt.ReasonMalformed},
		{name: "300-byte kid is refused", token: mint(k.rsa, "RS256", nil, map[string]any{"kid": strings.Repeat("k", 300)}), reason: jwt.ReasonUnknownKID},
		{name: "embedded jwk cannot sign a token", token: mint(attacker, "ES256", nil, map[string]any{"jwk": attackerPub}), reason: jwt.ReasonUnknownKID},
		{name: "embedded jwk with a trusted kid does not verify", token: mint(attacker, "ES256", nil, map[string]any{"jwk": attackerPub, "kid": kidOf(t, k.ec)}), reason: jwt.ReasonBadSignature},
		{name: "jku is never fetched", token: mint(attacker, "ES256", nil, map[string]any{"jku": attackerJWKS.URL()}), reason: jwt.ReasonUnknownKID},
		{name: "x5u is never fetched", token: mint(attacker, "ES256", nil, map[string]any{"x5u": attackerJWKS.URL(), "kid": kidOf(t, k.ec)}), reason: jwt.ReasonBadSignature},
		{name: "x5c cannot sign a token", token: mint(attacker, "ES256", nil, map[string]any{"x5c": []string{"MIIBfake"}, "kid": kidOf(t, k.ec)}), reason: jwt.ReasonBadSignature},
		{name: "tampered payload has a bad signature", token: tamper(t, valid), reason: jwt.ReasonBadSignature},
		{name: "signature by another key with the same kid is bad", token: mint(k.other, "RS256", nil, map[string]any{"kid": kidOf(t, k.rsa)}), reason: jwt.ReasonBadSignature},
		{name: "empty RS256 signature (trailing dot) is bad", token: swapSignature(valid, nil), reason: jwt.ReasonBadSignature},
		{name: "HS256 with the wrong secret is bad", token: mint(mustImport(t, []byte("another-secret-of-32-bytes-length!!")), "HS256", map[string]any{"iss": issHS}, nil), reason: jwt.ReasonBadSignature},
		{name: "psychic ES256 signature of zeros is bad (CVE-2022-21449)", token: swapSignature(mint(k.ec, "ES256", nil, nil), make([]byte, 64)), reason: jwt.ReasonBadSignature},
		{name: "psychic ES256 DER signature r=s=0 is bad (CVE-2022-21449)", token: swapSignature(mint(k.ec, "ES256", nil, nil), []byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00}), reason: jwt.ReasonBadSignature},
		{name: "crit header is unsupported", token: mint(k.rsa, "RS256", nil, map[string]any{"crit": []string{"exp"}, "exp": 1}), reason: jwt.ReasonCritUnsupported},
		{name: "expired token is refused", token: mint(k.rsa, "RS256", map[string]any{"exp": now - 3600}, nil), reason: jwt.ReasonExpired},
		{name: "token not valid yet is refused", token: mint(k.rsa, "RS256", map[string]any{"nbf": now + 3600}, nil), reason: jwt.ReasonNotYetValid},
		{name: "token issued in the future is refused", token: mint(k.rsa, "RS256", map[string]any{"iat": now + 3600}, nil), reason: jwt.ReasonIssuedInFuture},
		{name: "token older than max_token_age is refused", token: mint(k.ec, "ES256", map[string]any{"iss": issStatic, "iat": now - 7200}, map[string]any{"kid": ""}), reason: jwt.ReasonTooOld},
		{name: "untrusted issuer is refused", token: mint(k.rsa, "RS256", map[string]any{"iss": "https://evil.test"}, nil), reason: jwt.ReasonIssuerUnknown},
		{name: "issuer differing in case is refused", token: mint(k.rsa, "RS256", map[string]any{"iss": "https://RS.test"}, nil), reason: jwt.ReasonIssuerUnknown},
		{name: "wrong audience string is refused", token: mint(k.rsa, "RS256", map[string]any{"aud": "other"}, nil), reason: jwt.ReasonAudienceMismatch},
		{name: "wrong audience array is refused", token: mint(k.rsa, "RS256", map[string]any{"aud": []string{"x", "y"}}, nil), reason: jwt.ReasonAudienceMismatch},
		{name: "missing audience is refused", token: mint(k.rsa, "RS256", map[string]any{"aud": nil}, nil), reason: jwt.ReasonAudienceMismatch},
		{name: "missing iss is a missing claim", token: gwtest.MintToken(t, k.rsa, "RS256", map[string]any{"sub": "a"}, nil), reason: jwt.ReasonClaimMissing},
		{name: "missing exp is a missing claim", token: mint(k.rsa, "RS256", map[string]any{"exp": nil}, nil), reason: jwt.ReasonClaimMissing},
		{name: "missing required sub is a missing claim", token: mint(k.ec, "ES256", map[string]any{"iss": issStatic, "sub": nil}, map[string]any{"kid": ""}), reason: jwt.ReasonClaimMissing},
		{name: "missing iat with max_token_age is a missing claim", token: mint(k.ec, "ES256", map[string]any{"iss": issStatic, "iat": nil}, map[string]any{"kid": ""}), reason: jwt.ReasonClaimMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := e.auth(tc.token)
			if id != nil {
				t.Fatalf("authenticated %+v", id)
			}
			p := problem.As(err)
			if p == nil {
				t.Fatalf("err = %v, want a problem", err)
			}
			if string(p.Reason) != tc.reason || p.Status != http.StatusUnauthorized {
				t.Fatalf("got %d %s (%v), want 401 %s", p.Status, p.Reason, p.Err, tc.reason)
			}
			if got := p.Header.Get("WWW-Authenticate"); got == "" {
				t.Fatal("no WWW-Authenticate challenge")
			}
			if strings.Contains(p.Detail, tc.token) || (len(tc.token) > 20 && strings.Contains(p.Error(), tc.token)) {
				t.Fatal("the token leaked into the problem")
			}
		})
	}
	if n := attackerJWKS.Hits(); n != 0 {
		t.Fatalf("attacker JWKS was fetched %d times", n)
	}
}

// nonCanonical encodes s (whose length is 1 mod 3) with non-zero unused
// trailing bits, which a strict decoder refuses.
func nonCanonical(s string) string {
	enc := []byte(base64.RawURLEncoding.EncodeToString([]byte(s)))
	enc[len(enc)-1]++
	return string(enc)
}

type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }

func mustImport(t testing.TB, raw []byte) jwk.Key {
	t.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tamper flips one payload character of token, keeping it base64url.
func tamper(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(p), `"alice"`, `"admin"`, 1)))
	return strings.Join(parts, ".")
}

func TestAuthenticateLeavesOtherCredentialsAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		cred pipeline.Credential
	}{
		{name: "an API key is not ours", cred: pipeline.Credential{Kind: "api_key", Value: gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, nil), nil)}},
		{name: "an opaque token goes to introspection", cred: pipeline.Credential{Kind: "bearer", Value: "2YotnFZFEjr1zCsicMWpAA"}},
		{name: "a two-part token is not a JWS", cred: pipeline.Credential{Kind: "bearer", Value: "aaaa.bbbb"}},
		{name: "a token with padding is not a JWS", cred: pipeline.Credential{Kind: "bearer", Value: "aaaa.bbbb.cc=="}},
		{name: "an empty token is not a JWS", cred: pipeline.Credential{Kind: "bearer"}},
		{name: "a token starting with a dot is not a JWS", cred: pipeline.Credential{Kind: "bearer", Value: ".bbbb.cccc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := e.a.Authenticate(context.Background(), tc.cred); !errors.Is(err, pipeline.ErrNoCredential) {
				t.Fatalf("err = %v, want ErrNoCredential", err)
			}
		})
	}
}

func TestIsJWS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{name: "three base64url parts are a JWS", token: "eyJh.eyJz.c2ln", want: true},
		{name: "an empty signature is still JWS-shaped", token: "eyJh.eyJz.", want: true},
		{name: "two parts are not", token: "eyJh.eyJz"},
		{name: "five parts are not", token: "a.b.c.d.e"},
		{name: "a space is not base64url", token: "eyJh.ey Jz.c2ln"},
		{name: "a plus is not base64url", token: "eyJh.ey+z.c2ln"},
		{name: "an empty header is not", token: ".eyJz.c2ln"},
		{name: "the empty string is not", token: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := jwt.IsJWS(tc.token); got != tc.want {
				t.Fatalf("IsJWS(%q) = %v, want %v", tc.token, got, tc.want)
			}
		})
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := e.keys
	now := e.clock.Now().Unix()
	tp, err := k.rsa.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		token  string
		issuer string
	}{
		{name: "RS256 from the JWKS", token: gwtest.MintToken(t, k.rsa, "RS256", e.claims(issRS, nil), nil), issuer: issRS},
		{name: "PS256 from the JWKS", token: gwtest.MintToken(t, k.rsa, "PS256", e.claims(issRS, nil), nil), issuer: issRS},
		{name: "ES256 from the JWKS", token: gwtest.MintToken(t, k.ec, "ES256", e.claims(issRS, nil), nil), issuer: issRS},
		{name: "EdDSA from the JWKS", token: gwtest.MintToken(t, k.ed, "EdDSA", e.claims(issRS, nil), nil), issuer: issRS},
		{name: "no kid picks the only key for the alg", token: gwtest.MintToken(t, k.ed, "EdDSA", e.claims(issRS, nil), map[string]any{"kid": nil}), issuer: issRS},
		{name: "aud array containing the audience", token: gwtest.MintToken(t, k.rsa, "RS256", e.claims(issRS, map[string]any{"aud": []string{"other", "api"}}), nil), issuer: issRS},
		{name: "float exp", token: gwtest.MintToken(t, k.rsa, "RS256", e.claims(issRS, map[string]any{"exp": float64(now) + 600.5}), nil), issuer: issRS},
		{name: "HS256 with the secret", token: gwtest.MintToken(t, k.hs, "HS256", e.claims(issHS, nil), nil), issuer: issHS},
		{name: "RS256 from a PEM file without kid", token: gwtest.MintToken(t, k.rsa, "RS256", e.claims(issStatic, nil), map[string]any{"kid": nil}), issuer: issStatic},
		{name: "RS256 from a PEM file by thumbprint kid", token: gwtest.MintToken(t, k.rsa, "RS256", e.claims(issStatic, nil), map[string]any{"kid": base64.RawURLEncoding.EncodeToString(tp)}), issuer: issStatic},
		{name: "EdDSA from a JWKS file", token: gwtest.MintToken(t, k.ed, "EdDSA", e.claims(issStatic, nil), nil), issuer: issStatic},
		{name: "embedded jwk, jku, x5u and x5c are ignored", token: gwtest.MintToken(t, k.ec, "ES256", e.claims(issRS, nil), map[string]any{"jwk": mustPublic(t, gwtest.NewECKey(t)), "jku": "https://evil.test/jwks", "x5u": "https://evil.test/x5u", "x5c": []string{"MIIB"}}), issuer: issRS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := e.auth(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if !id.Authenticated || id.Issuer != tc.issuer || id.Subject != "alice" || id.Method != "jwt" {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func mustPublic(t testing.TB, k jwk.Key) jwk.Key {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exp := e.clock.Now().Add(10 * time.Minute).Unix()
	tests := []struct {
		name       string
		iss        string
		key        jwk.Key
		alg        string
		over       map[string]any
		wantGroups []string
		wantScopes []string
	}{
		{name: "groups array and scope string", iss: issRS, key: e.keys.rsa, alg: "RS256", over: map[string]any{"groups": []string{"eng", "ops"}, "scope": "read  write"}, wantGroups: []string{"eng", "ops"}, wantScopes: []string{"read", "write"}},
		{name: "groups string and scp array", iss: issRS, key: e.keys.rsa, alg: "RS256", over: map[string]any{"groups": "eng", "scp": []any{"read", 3, "write"}}, wantGroups: []string{"eng"}, wantScopes: []string{"read", "write"}},
		{name: "configured groups claim", iss: issStatic, key: e.keys.ed, alg: "EdDSA", over: map[string]any{"roles": []string{"admin"}, "groups": []string{"ignored"}}, wantGroups: []string{"admin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := e.claims(tc.iss, tc.over)
			c["exp"] = exp
			id, err := e.auth(gwtest.MintToken(t, tc.key, tc.alg, c, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !equal(id.Groups, tc.wantGroups) || !equal(id.Scopes, tc.wantScopes) {
				t.Fatalf("groups %q scopes %q, want %q %q", id.Groups, id.Scopes, tc.wantGroups, tc.wantScopes)
			}
			if id.KeyID != kidOf(t, tc.key) || !id.ExpiresAt.Equal(time.Unix(exp, 0)) || id.Claims["iss"] != tc.iss {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClockSkewBoundaries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := e.clock.Now().Unix()
	tests := []struct {
		name   string
		over   map[string]any
		reason string
	}{
		{name: "exp 29s ago is within the 30s skew", over: map[string]any{"exp": now - 29}},
		{name: "exp exactly 30s ago is expired", over: map[string]any{"exp": now - 30}, reason: jwt.ReasonExpired},
		{name: "nbf 30s ahead is within the skew", over: map[string]any{"nbf": now + 30}},
		{name: "nbf 31s ahead is not valid yet", over: map[string]any{"nbf": now + 31}, reason: jwt.ReasonNotYetValid},
		{name: "iat 30s ahead is within the skew", over: map[string]any{"iat": now + 30}},
		{name: "iat 31s ahead is in the future", over: map[string]any{"iat": now + 31}, reason: jwt.ReasonIssuedInFuture},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.auth(gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, tc.over), nil))
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if p := problem.As(err); p == nil || string(p.Reason) != tc.reason {
				t.Fatalf("err = %v, want %s", err, tc.reason)
			}
		})
	}
}

func TestJWKSUnavailableIs503(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetMode(gwtest.ModeFail)
	_, err := e.auth(gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, nil), nil))
	p := problem.As(err)
	if p == nil || p.Status != http.StatusServiceUnavailable || p.Reason != jwt.ReasonJWKSUnavailable {
		t.Fatalf("err = %v, want 503 jwks_unavailable", err)
	}
	if got := p.Header.Get("Retry-After"); got != "30" {
		t.Fatalf("Retry-After = %q, want 30", got)
	}
	if err := e.a.Ready(); err == nil || !strings.Contains(err.Error(), issRS) {
		t.Fatalf("Ready() = %v, want an error naming %s", err, issRS)
	}
}

func TestStartMakesReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.a.Start(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for e.a.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %v", e.a.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewReportsBadKeyFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := writeFile(t, dir, "garbage.pem", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
	sym := writeFile(t, dir, "sym.json", `{"kty":"oct","k":"c2VjcmV0"}`)
	second := writeFile(t, dir, "second.pem", "# keys\n\n-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
	badJSON := writeFile(t, dir, "bad.json", "{\n  \"kty\": \"RSA\",\n  \"n\": ]\n}")
	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "a missing file is named", path: dir + "/missing.pem", want: "missing.pem"},
		{name: "a garbage PEM file is named with the block's line", path: garbage, want: "garbage.pem:1: pem block 0"},
		{name: "a PEM block's line counts the lines before it", path: second, want: "second.pem:3: pem block 0"},
		{name: "a JWK file with a JSON syntax error is named with the line", path: badJSON, want: "bad.json:3: invalid character ']'"},
		{name: "a symmetric JWK is refused", path: sym, want: "symmetric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := jwt.New(defaulted(config.JWT{Issuers: []config.Issuer{{Issuer: "https://i.test", Keys: []string{tc.path}, Algorithms: []string{"RS256"}}}}), jwt.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "https://i.test") {
				t.Fatalf("err = %v, want it to mention %q and the issuer", err, tc.want)
			}
		})
	}
}
