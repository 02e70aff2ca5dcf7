package jwt_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/problem"
)

// counter returns the value of a counter in reg, summed over labels.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration
		claims  map[string]any
		iss     string
		reason  string // of the second authentication; "" = accepted
		hits    float64
	}{
		{name: "second use is a cache hit", iss: issRS, hits: 1},
		{name: "a hit past exp is expired", iss: issRS, claims: map[string]any{"exp": t0.Unix() + 120}, advance: 3 * time.Minute, reason: jwt.ReasonExpired},
		{name: "a hit past max_token_age is too old", iss: issStatic, claims: map[string]any{"iat": t0.Unix() - 3570, "exp": t0.Unix() + 3600}, advance: 2 * time.Minute, reason: jwt.ReasonTooOld, hits: 1},
		{name: "an entry older than 5m is verified again", iss: issRS, claims: map[string]any{"exp": t0.Unix() + 3600}, advance: 6 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			hdr := map[string]any{}
			key := e.keys.rsa
			if tc.iss == issStatic {
				key, hdr["kid"] = e.keys.ed, nil
			}
			alg := "RS256"
			if key == e.keys.ed {
				alg = "EdDSA"
			}
			tok := gwtest.MintToken(t, key, alg, e.claims(tc.iss, tc.claims), hdr)
			if _, err := e.auth(tok); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tc.advance)
			id, err := e.auth(tok)
			if tc.reason == "" && err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" {
				if p := problem.As(err); p == nil || string(p.Reason) != tc.reason || id != nil {
					t.Fatalf("err = %v, want %s", err, tc.reason)
				}
			}
			if got := counter(t, e.reg, "portcullis_jwt_cache_hits_total"); got != tc.hits {
				t.Fatalf("cache hits = %v, want %v", got, tc.hits)
			}
		})
	}
}

func TestCachedIdentityCannotBeMutated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, map[string]any{"groups": []string{"eng"}}), nil)
	first, err := e.auth(tok)
	if err != nil {
		t.Fatal(err)
	}
	first.Subject = "mallory"
	first.Groups = append(first.Groups, "admin")
	second, err := e.auth(tok)
	if err != nil {
		t.Fatal(err)
	}
	if second.Subject != "alice" || len(second.Groups) != 1 {
		t.Fatalf("cached identity was changed: %+v", second)
	}
}

func TestCacheCanBeDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.JWT) { c.CacheSize = 0 })
	tok := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, nil), nil)
	for range 2 {
		if _, err := e.auth(tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := counter(t, e.reg, "portcullis_jwt_cache_hits_total"); got != 0 {
		t.Fatalf("cache hits = %v with the cache disabled", got)
	}
	if got := counter(t, e.reg, "portcullis_jwt_verifications_total"); got != 2 {
		t.Fatalf("verifications = %v, want 2", got)
	}
}
