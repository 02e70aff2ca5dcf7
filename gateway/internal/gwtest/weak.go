package gwtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// WeakRSAKey is an RSA key below the gateway's 2048-bit floor. The JOSE
// library refuses to import such keys, so it stays a crypto/rsa key, and
// its JWK and tokens are made by hand.
type WeakRSAKey struct {
	Key *rsa.PrivateKey
	KID string
}

// NewWeakRSAKey returns a fresh RSA key of bits (at least 1024, Go's own
// floor) with the kid "weak-rsa-<bits>".
func NewWeakRSAKey(t testing.TB, bits int) *WeakRSAKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return &WeakRSAKey{Key: k, KID: "weak-rsa-" + big.NewInt(int64(bits)).String()}
}

// JWK is the public key as a JWK object.
func (k *WeakRSAKey) JWK() map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": k.KID, "use": "sig",
		"n": b64(k.Key.N.Bytes()), "e": b64(big.NewInt(int64(k.Key.E)).Bytes()),
	}
}

// Token returns an RS256 token of claims with header {alg, typ, kid}.
func (k *WeakRSAKey) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.KID})
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64(p)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.Key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// JWKObject is the public form of key as a JSON object, for documents that
// mix it with hand-made entries (see JWKSServer.SetEntries).
func JWKObject(t testing.TB, key jwk.Key) map[string]any {
	t.Helper()
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// ForEachRSAFloor runs f as two subtests: with the JOSE library's own RSA
// floor (2048 bits, exponent 3) and with that floor off, as the gateway
// binary has it: OPA's topdown package lowers it process-wide in an init
// function. The floor is process-wide, so the caller must not be a
// parallel test (f's own subtests may be: they end before the floor is
// restored).
func ForEachRSAFloor(t *testing.T, f func(t *testing.T)) {
	for _, fl := range []struct {
		name      string
		bits, exp int
	}{{"with the library's RSA floor", 2048, 3}, {"with the RSA floor off as in the binary", 0, 0}} {
		jwk.Configure(jwk.WithMinRSAModulusBits(fl.bits), jwk.WithMinRSAPublicExponent(fl.exp))
		t.Run(fl.name, f)
	}
	jwk.Configure(jwk.WithMinRSAModulusBits(2048), jwk.WithMinRSAPublicExponent(3))
}
