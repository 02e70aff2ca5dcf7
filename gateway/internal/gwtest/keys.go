// Package gwtest holds test helpers shared by the gateway's tests: keys, token minting and a fake JWKS server.
package gwtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// NewRSAKey returns a fresh 2048-bit RSA private key with a kid ("rsa-…").
func NewRSAKey(t testing.TB) jwk.Key {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return withKID(t, raw, "rsa-")
}

// NewECKey returns a fresh P-256 private key with a kid ("ec-…").
func NewECKey(t testing.TB) jwk.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return withKID(t, raw, "ec-")
}

// NewEdKey returns a fresh Ed25519 private key with a kid ("ed-…").
func NewEdKey(t testing.TB) jwk.Key {
	t.Helper()
	_, raw, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return withKID(t, raw, "ed-")
}

// withKID imports raw and sets its kid to prefix + the first bytes of its
// RFC 7638 thumbprint, so every key has a distinct, stable kid.
func withKID(t testing.TB, raw any, prefix string) jwk.Key {
	t.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, prefix+hex.EncodeToString(tp[:6])); err != nil {
		t.Fatal(err)
	}
	return k
}

// PublicSet returns a set holding the public form of keys.
func PublicSet(t testing.TB, keys ...jwk.Key) jwk.Set {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	return set
}
