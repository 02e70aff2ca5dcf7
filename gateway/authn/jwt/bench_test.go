package jwt_test

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
)

func BenchmarkAuthenticate(b *testing.B) {
	uncached := newEnv(b, func(c *config.JWT) { c.CacheSize = 0 })
	cached := newEnv(b)
	k := uncached.keys
	cases := []struct {
		name string
		e    *env
		key  jwk.Key
		alg  string
	}{
		{name: "RS256 uncached", e: uncached, key: k.rsa, alg: "RS256"},
		{name: "ES256 uncached", e: uncached, key: k.ec, alg: "ES256"},
		{name: "EdDSA uncached", e: uncached, key: k.ed, alg: "EdDSA"},
		{name: "RS256 cache hit", e: cached, key: k.rsa, alg: "RS256"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			tok := gwtest.MintToken(b, bc.key, bc.alg, bc.e.claims(issRS, map[string]any{"groups": []string{"eng"}, "scope": "read write"}), nil)
			if _, err := bc.e.auth(tok); err != nil { // fetches the JWKS, fills the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := bc.e.auth(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
