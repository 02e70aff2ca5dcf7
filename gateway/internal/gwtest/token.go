package gwtest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// MintToken returns a compact JWS of claims signed by key with alg. The
// header is {"alg": alg, "typ": "JWT", "kid": key's kid (if any)}; entries of
// headers are added over it, and a nil value removes a field. An alg of
// "none" in any casing produces an empty signature; the header's alg is
// written as given, so tests can mint tokens that claim one alg and are
// signed with another by setting headers["alg"].
func MintToken(t testing.TB, key jwk.Key, alg string, claims, headers map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if kid, ok := key.KeyID(); ok {
		hdr["kid"] = kid
	}
	for k, v := range headers {
		if v == nil {
			delete(hdr, k)
		} else {
			hdr[k] = v
		}
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return Sign(t, key, alg, h, p)
}

// Sign returns the compact JWS of header and payload, taken byte for byte
// (so tests can sign duplicate keys or odd JSON), signed by key with alg; an
// alg of "none" in any casing gives an empty signature.
func Sign(t testing.TB, key jwk.Key, alg string, header, payload []byte) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	if strings.EqualFold(alg, "none") {
		return input + "."
	}
	sa, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("unknown alg %q", alg)
	}
	signer, err := jws.SignerFor(sa)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(key, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// Forge returns header.payload.signature with each part base64url-encoded
// as given, unsigned: for malformed and alg-none tokens.
func Forge(header, payload string, signature []byte) string {
	return b64([]byte(header)) + "." + b64([]byte(payload)) + "." + b64(signature)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
