package jwks_test

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/jwks"
)

func TestUsable(t *testing.T) {
	t.Parallel()
	rsa, ec, ed := gwtest.NewRSAKey(t), gwtest.NewECKey(t), gwtest.NewEdKey(t)
	hmac, err := jwk.Import([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(k jwk.Key, name string, v any) jwk.Key {
		c, err := k.Clone()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Set(name, v); err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name string
		key  jwk.Key
		alg  jwa.SignatureAlgorithm
		want bool
	}{
		{name: "RSA key fits RS256", key: rsa, alg: jwa.RS256(), want: true},
		{name: "RSA key fits PS512", key: rsa, alg: jwa.PS512(), want: true},
		{name: "RSA key does not fit HS256", key: rsa, alg: jwa.HS256()},
		{name: "RSA key does not fit ES256", key: rsa, alg: jwa.ES256()},
		{name: "P-256 key fits ES256", key: ec, alg: jwa.ES256(), want: true},
		{name: "P-256 key does not fit ES384", key: ec, alg: jwa.ES384()},
		{name: "Ed25519 key fits EdDSA", key: ed, alg: jwa.EdDSA(), want: true},
		{name: "Ed25519 key does not fit ES256", key: ed, alg: jwa.ES256()},
		{name: "symmetric key fits HS256", key: hmac, alg: jwa.HS256(), want: true},
		{name: "symmetric key does not fit RS256", key: hmac, alg: jwa.RS256()},
		{name: "key pinned to RS256 does not fit PS256", key: with(rsa, jwk.AlgorithmKey, jwa.RS256()), alg: jwa.PS256()},
		{name: "key pinned to RS256 fits RS256", key: with(rsa, jwk.AlgorithmKey, jwa.RS256()), alg: jwa.RS256(), want: true},
		{name: "encryption key does not fit", key: with(rsa, jwk.KeyUsageKey, "enc"), alg: jwa.RS256()},
		{name: "key without verify op does not fit", key: with(rsa, jwk.KeyOpsKey, jwk.KeyOperationList{jwk.KeyOpEncrypt}), alg: jwa.RS256()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := jwks.Usable(tc.key, tc.alg); got != tc.want {
				t.Fatalf("Usable = %v, want %v", got, tc.want)
			}
		})
	}
}
