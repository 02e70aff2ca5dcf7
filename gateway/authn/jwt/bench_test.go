package jwt_test

import (
	"fmt"
	"sync/atomic"
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

// BenchmarkAuthenticateRotating: cache hits on 10 000 tokens in turn, in a
// cache of 10 000 (the default), as under make bench's (c) load: every hit
// reads its own cold entry. ES256 tokens: minting 10 000 RS256 ones would
// take seconds, and a hit never looks at the algorithm's cost.
func BenchmarkAuthenticateRotating(b *testing.B) {
	e := newEnv(b)
	toks := make([]string, 10_000)
	for i := range toks {
		toks[i] = gwtest.MintToken(b, e.keys.ec, "ES256", e.claims(issRS, map[string]any{"sub": fmt.Sprintf("user-%d", i), "groups": []string{"eng"}}), nil)
		if _, err := e.auth(toks[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := e.auth(toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	// parallel: every core hits the cache, as the gateway's do under load.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(4999))
			for pb.Next() {
				if _, err := e.auth(toks[i%len(toks)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
