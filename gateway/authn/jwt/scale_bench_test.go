package jwt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/internal/scalebench"
)

// scaleAuth authenticates token with a, failing the benchmark on error.
func scaleAuth(b *testing.B, a *jwt.Authenticator, token string) {
	if _, err := a.Authenticate(context.Background(), pipeline.Credential{Kind: "bearer", Source: "header", Value: token}); err != nil {
		b.Fatal(err)
	}
}

// scaleClaims are valid claims of iss for the next hour, for subject sub.
func scaleClaims(iss, sub string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": iss, "sub": sub, "aud": scalebench.Audience, "exp": now + 3600, "iat": now}
}

// BenchmarkScaleIssuers is the JWT-issuers axis of make bench-scale
// (issue 20): an uncached HS256 token of the last of n issuers, each with
// its own secret. HMAC is cheap, so a selection whose cost grew with the
// issuers would show in ns/op; it should be flat (a map by iss).
func BenchmarkScaleIssuers(b *testing.B) {
	for _, n := range []int{1, 10, 50, 200} {
		b.Run(fmt.Sprintf("issuers=%d", n), func(b *testing.B) {
			cfg := config.JWT{}
			for i := range n {
				cfg.Issuers = append(cfg.Issuers, config.Issuer{
					Issuer: scalebench.Issuer(i), Secret: config.NewSecret(scalebench.IssuerSecret(i)),
					Algorithms: []string{"HS256"}, Audiences: []string{scalebench.Audience},
				})
			}
			m := scalebench.Metrics{}
			a := scalebench.Duration(m, "build-ms", func() *jwt.Authenticator { return newScaleAuthenticator(b, cfg, 0) })
			last := cfg.Issuers[n-1]
			key, err := jwk.Import([]byte(last.Secret.Value()))
			if err != nil {
				b.Fatal(err)
			}
			tok := gwtest.MintToken(b, key, "HS256", scaleClaims(last.Issuer, "alice"), nil)
			scaleAuth(b, a, tok)
			b.ReportAllocs()
			for b.Loop() {
				scaleAuth(b, a, tok)
			}
			m.Report(b)
		})
	}
}

// BenchmarkScaleJWKSKeys is the keys-per-JWKS axis: an uncached EdDSA
// token signed by the last of n keys in one issuer's key set (a static
// JWKS file). The key is found by kid; ns/op should be flat.
func BenchmarkScaleJWKSKeys(b *testing.B) {
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := make([]jwk.Key, n)
			for i := range keys {
				keys[i] = gwtest.NewEdKey(b)
			}
			set, err := json.Marshal(gwtest.PublicSet(b, keys...))
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), "keys.jwks.json")
			if err := os.WriteFile(path, set, 0o600); err != nil {
				b.Fatal(err)
			}
			iss := "https://issuer.example"
			cfg := config.JWT{Issuers: []config.Issuer{{Issuer: iss, Keys: []string{path}, Algorithms: []string{"EdDSA"}, Audiences: []string{"api"}}}}
			m := scalebench.Metrics{}
			a := scalebench.Duration(m, "build-ms", func() *jwt.Authenticator { return newScaleAuthenticator(b, cfg, 0) })
			tok := gwtest.MintToken(b, keys[n-1], "EdDSA", scaleClaims(iss, "alice"), nil)
			scaleAuth(b, a, tok)
			b.ReportAllocs()
			for b.Loop() {
				scaleAuth(b, a, tok)
			}
			m.Report(b)
		})
	}
}

// BenchmarkScaleTokenCache is the verified-token cache axis: a cache of n
// entries filled with n distinct HS256 tokens, then hits on them in turn.
// It reports the heap per entry (B/entry), ns/op of a hit while the cache
// is full, the GC's share of the CPU during the hits (gc-cpu-%) and the
// time of one full collection with the cache live (gc-ms), which grows with
// the entries the collector must mark.
func BenchmarkScaleTokenCache(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			iss, secret := "https://issuer.example", "secret-of-the-cache-issuer-0123456789"
			cfg := config.JWT{Issuers: []config.Issuer{{Issuer: iss, Secret: config.NewSecret(secret), Algorithms: []string{"HS256"}, Audiences: []string{"api"}}}}
			key, err := jwk.Import([]byte(secret))
			if err != nil {
				b.Fatal(err)
			}
			toks := make([]string, n)
			for i := range toks {
				toks[i] = gwtest.MintToken(b, key, "HS256", scaleClaims(iss, fmt.Sprintf("user-%d", i)), nil)
			}
			m := scalebench.Metrics{}
			a := newScaleAuthenticator(b, cfg, n)
			scalebench.Heap(m, n, "B/entry", func() *jwt.Authenticator {
				for _, tok := range toks {
					scaleAuth(b, a, tok)
				}
				return a
			})
			b.ReportAllocs()
			gc0, i := scalebench.ReadGCCPU(), 0
			for b.Loop() {
				scaleAuth(b, a, toks[i%n])
				i += 7919 // a prime stride: hits spread over the whole cache
			}
			m["gc-cpu-%"] = scalebench.ReadGCCPU().FractionSince(gc0)
			scalebench.Duration(m, "gc-ms", func() struct{} { runtime.GC(); return struct{}{} })
			m.Report(b)
			runtime.KeepAlive(a)
		})
	}
}

// newScaleAuthenticator builds an authenticator of cfg with the
// configuration's defaults and a token cache of cacheSize (0: none).
func newScaleAuthenticator(b *testing.B, cfg config.JWT, cacheSize int) *jwt.Authenticator {
	cfg = defaulted(cfg)
	cfg.CacheSize = cacheSize
	a, err := jwt.New(cfg, jwt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Stop)
	return a
}
