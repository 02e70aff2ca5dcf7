package jwt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/internal/scalebench"
	"github.com/portcullis/portcullis/policy"
)

// TestCachedTokenSharesItsClaimsJSON: every identity handed out for one
// cached token carries the same claims cell, so the decision log encodes
// the claims once; another token has a cell of its own.
func TestCachedTokenSharesItsClaimsJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, map[string]any{"role": "buyer"}), nil)
	other := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, map[string]any{"role": "seller"}), nil)
	first, err := e.auth(tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.auth(tok)
	if err != nil {
		t.Fatal(err)
	}
	third, err := e.auth(other)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || first.ClaimsJSON == nil || first.ClaimsJSON != second.ClaimsJSON {
		t.Fatalf("two hits of one token: identities %p %p, claims cells %p %p; want two copies sharing one cell",
			first, second, first.ClaimsJSON, second.ClaimsJSON)
	}
	if third.ClaimsJSON == nil || third.ClaimsJSON == first.ClaimsJSON {
		t.Fatalf("another token's claims cell %p, want its own (first's is %p)", third.ClaimsJSON, first.ClaimsJSON)
	}
}

// BenchmarkTokenCacheClaimsJSON is the memory a cached token's claims JSON
// adds once the decision log has written it (the cell is filled by the
// first event of each token): B/entry is the cache as
// BenchmarkScaleTokenCache builds it, logged-B/entry what filling every
// cell adds, json-B the length of one token's claims JSON.
func BenchmarkTokenCacheClaimsJSON(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
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
			ids := make([]*policy.Identity, n)
			scalebench.Heap(m, n, "B/entry", func() *jwt.Authenticator {
				for i, tok := range toks {
					id, err := a.Authenticate(context.Background(), pipeline.Credential{Kind: "bearer", Source: "header", Value: tok})
					if err != nil {
						b.Fatal(err)
					}
					ids[i] = id
				}
				return a
			})
			var jsonLen int
			scalebench.Heap(m, n, "logged-B/entry", func() *jwt.Authenticator {
				for _, id := range ids {
					j, err := id.ClaimsJSON.Get(func() ([]byte, error) { return json.Marshal(id.Claims) })
					if err != nil {
						b.Fatal(err)
					}
					jsonLen = len(j)
				}
				return a
			})
			m["json-B"] = float64(jsonLen)
			delete(m, "heap-MiB") // of the second step only: misleading
			for b.Loop() {
				scaleAuth(b, a, toks[0])
			}
			m.Report(b)
			runtime.KeepAlive(ids)
		})
	}
}
