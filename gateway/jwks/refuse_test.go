package jwks_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/jwks"
)

// weakKeys are generated once: RSA key generation is slow.
var (
	weakOnce           sync.Once
	weak1024, weak2047 *gwtest.WeakRSAKey
)

func weakKeys(t testing.TB) (*gwtest.WeakRSAKey, *gwtest.WeakRSAKey) {
	weakOnce.Do(func() {
		weak1024, weak2047 = gwtest.NewWeakRSAKey(t, 1024), gwtest.NewWeakRSAKey(t, 2047)
	})
	return weak1024, weak2047
}

func ecKey(t *testing.T, c elliptic.Curve) jwk.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// parseEntry parses one JWK object the way a fetched document is parsed:
// an entry the library cannot read becomes a placeholder.
func parseEntry(t *testing.T, entry map[string]any) jwk.Key {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": []any{entry}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(b, jwk.WithStrictKeySetParsing(false))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := set.Key(0)
	return k
}

func with(m map[string]any, kv ...any) map[string]any {
	c := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestRefuse(t *testing.T) {
	gwtest.ForEachRSAFloor(t, func(t *testing.T) {
		w1024, w2047 := weakKeys(t)
		rsa2048 := gwtest.JWKObject(t, gwtest.NewRSAKey(t))
		ed := gwtest.JWKObject(t, gwtest.NewEdKey(t))
		p256 := gwtest.JWKObject(t, gwtest.NewECKey(t))
		tests := []struct {
			name   string
			entry  map[string]any
			reason string // "" = kept
			bits   int
		}{
			{name: "RSA 2048 is kept", entry: rsa2048},
			{name: "RSA 1024 is too small", entry: w1024.JWK(), reason: jwks.RejectRSATooSmall, bits: 1024},
			{name: "RSA 2047 is too small", entry: w2047.JWK(), reason: jwks.RejectRSATooSmall, bits: 2047},
			{name: "RSA 1024 pinned to RS256 is too small", entry: with(w1024.JWK(), "alg", "RS256"), reason: jwks.RejectRSATooSmall, bits: 1024},
			{name: "RSA 1024 without kid is too small", entry: with(w1024.JWK(), "kid", nil), reason: jwks.RejectRSATooSmall, bits: 1024},
			{name: "RSA 1024 with a padded modulus is too small", entry: with(w1024.JWK(), "n", "AAAA"+w1024.JWK()["n"].(string)), reason: jwks.RejectRSATooSmall, bits: 1024},
			{name: "RSA without a modulus is unsupported", entry: with(rsa2048, "n", nil), reason: jwks.RejectUnsupported},
			{name: "RSA with an even exponent is unsupported", entry: with(rsa2048, "e", "AQAA"), reason: jwks.RejectUnsupported},
			{name: "RSA with exponent 2 is refused", entry: with(rsa2048, "e", "Ag"), reason: jwks.RejectRSAExponent},
			{name: "RSA with exponent 1 is refused", entry: with(rsa2048, "e", "AQ"), reason: jwks.RejectRSAExponent},
			{name: "RSA with exponent 1 padded is refused", entry: with(rsa2048, "e", "AAAB"), reason: jwks.RejectRSAExponent},
			{name: "RSA with exponent 3 is kept", entry: with(rsa2048, "e", "Aw")},
			{name: "EC P-256 is kept", entry: p256},
			{name: "EC P-384 is kept", entry: gwtest.JWKObject(t, ecKey(t, elliptic.P384()))},
			{name: "EC P-521 is kept", entry: gwtest.JWKObject(t, ecKey(t, elliptic.P521()))},
			{name: "EC P-224 is an unsupported curve", entry: with(p256, "crv", "P-224"), reason: jwks.RejectCurveUnsupported},
			{name: "EC P-192 is an unsupported curve", entry: with(p256, "crv", "P-192"), reason: jwks.RejectCurveUnsupported},
			{name: "EC secp256k1 is an unsupported curve", entry: with(p256, "crv", "secp256k1"), reason: jwks.RejectCurveUnsupported},
			{name: "EC p-256 in lower case is an unsupported curve", entry: with(p256, "crv", "p-256"), reason: jwks.RejectCurveUnsupported},
			{name: "Ed25519 is kept", entry: ed},
			{name: "OKP X25519 is an unsupported curve", entry: with(ed, "crv", "X25519"), reason: jwks.RejectCurveUnsupported},
			{name: "OKP Ed448 is an unsupported curve", entry: with(ed, "crv", "Ed448"), reason: jwks.RejectCurveUnsupported},
			{name: "a symmetric key is refused", entry: map[string]any{"kty": "oct", "kid": "hs", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}, reason: jwks.RejectSymmetric},
			{name: "an unknown key type is unsupported", entry: map[string]any{"kty": "ML-DSA", "kid": "pq", "pub": "AAAA"}, reason: jwks.RejectUnsupported},
			{name: "an entry without kty is unsupported", entry: map[string]any{"kid": "x", "n": "AQAB"}, reason: jwks.RejectUnsupported},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r, refused := jwks.Refuse(parseEntry(t, tc.entry))
				if refused != (tc.reason != "") || r.Reason != tc.reason || tc.bits != 0 && r.Bits != tc.bits {
					t.Fatalf("Refuse = %+v, %v; want reason %q bits %d", r, refused, tc.reason, tc.bits)
				}
				if kid, _ := tc.entry["kid"].(string); refused && r.KID != kid {
					t.Fatalf("kid = %q, want %q", r.KID, kid)
				}
			})
		}
	})
}

// rejected returns the portcullis_jwks_keys_rejected_total series of reg
// as "reason=value" strings.
func rejected(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_jwks_keys_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var issuer, reason string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "issuer":
					issuer = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			out[issuer+" "+reason] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestWeakKeysAreLeftOutOfAFetchedSet(t *testing.T) {
	gwtest.ForEachRSAFloor(t, func(t *testing.T) {
		w1024, _ := weakKeys(t)
		big, ec := gwtest.NewRSAKey(t), gwtest.NewECKey(t)
		var logs bytes.Buffer
		srv := gwtest.NewJWKSServer(t)
		srv.SetEntries(t, w1024.JWK(), gwtest.JWKObject(t, big),
			map[string]any{"kty": "oct", "kid": "hs", "k": "c2VjcmV0"},
			with(gwtest.JWKObject(t, ec), "crv", "P-192", "kid", "p192"),
			with(w1024.JWK(), "kid", "weak-enc", "use", "enc"), // encryption keys are dropped without a word
		)
		clock, reg := gwtest.NewClock(t0), prometheus.NewRegistry()
		set, err := jwks.New(jwks.WithTestDefaults(jwks.Options{
			URL: srv.URL(), MinRefreshInterval: 30 * time.Second, Registerer: reg, Issuer: "https://weak.test",
			Now: clock.Now, Logger: zerolog.New(&logs),
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(set.Stop)
		lookup := func(kid string) error {
			_, err := set.Lookup(context.Background(), kid, jwa.RS256())
			return err
		}
		if err := lookup(kidOf(t, big)); err != nil {
			t.Fatalf("the 2048-bit key beside the weak one: %v", err)
		}
		if err := lookup(w1024.KID); !errors.Is(err, jwks.ErrUnknownKID) {
			t.Fatalf("the 1024-bit key: err = %v, want ErrUnknownKID", err)
		}
		want := map[string]float64{"https://weak.test rsa_too_small": 1, "https://weak.test symmetric": 1, "https://weak.test curve_unsupported": 1}
		if got := rejected(t, reg); !equalCounts(got, want) {
			t.Fatalf("rejections = %v, want %v", got, want)
		}
		line := logLine(t, logs.String(), w1024.KID)
		if line["bits"] != float64(1024) || line["issuer"] != "https://weak.test" || line["reason"] != "rsa_too_small" {
			t.Fatalf("log line %v lacks bits, issuer or reason", line)
		}
		if n := w1024.JWK()["n"].(string); strings.Contains(logs.String(), n[:40]) {
			t.Fatal("the log holds key material")
		}

		t.Run("an unchanged document is not reported again", func(t *testing.T) {
			clock.Advance(time.Minute)
			if err := lookup("unknown"); !errors.Is(err, jwks.ErrUnknownKID) { // forces a refetch
				t.Fatal(err)
			}
			if got := rejected(t, reg)["https://weak.test rsa_too_small"]; got != 1 {
				t.Fatalf("rsa_too_small = %v after an unchanged refetch, want 1", got)
			}
			if n := strings.Count(logs.String(), "jwks key refused"); n != 3 {
				t.Fatalf("%d refusal log lines, want 3 (one per key, once)", n)
			}
		})
		t.Run("a changed document is reported again", func(t *testing.T) {
			srv.SetEntries(t, w1024.JWK(), gwtest.JWKObject(t, big), gwtest.JWKObject(t, ec))
			clock.Advance(time.Minute)
			if err := lookup("unknown"); !errors.Is(err, jwks.ErrUnknownKID) {
				t.Fatal(err)
			}
			if got := rejected(t, reg)["https://weak.test rsa_too_small"]; got != 2 {
				t.Fatalf("rsa_too_small = %v after a changed document, want 2", got)
			}
		})
		t.Run("a document of only weak keys is unusable, and the last good set stays", func(t *testing.T) {
			srv.SetEntries(t, w1024.JWK())
			clock.Advance(time.Minute)
			if err := lookup("unknown"); !errors.Is(err, jwks.ErrUnknownKID) {
				t.Fatal(err)
			}
			if err := lookup(kidOf(t, big)); err != nil {
				t.Fatalf("stale-if-error: %v", err)
			}
			if got := metric(t, reg, "portcullis_jwks_fetch_failures_total"); got != 1 {
				t.Fatalf("failures = %v, want 1", got)
			}
		})
	})
}

func TestWeakFallbackKeysAreLeftOut(t *testing.T) {
	gwtest.ForEachRSAFloor(t, func(t *testing.T) {
		w1024, _ := weakKeys(t)
		ed := gwtest.NewEdKey(t)
		b, err := json.Marshal(map[string]any{"keys": []any{w1024.JWK(), gwtest.JWKObject(t, ed)}})
		if err != nil {
			t.Fatal(err)
		}
		fallback, err := jwk.Parse(b, jwk.WithStrictKeySetParsing(false))
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		set, err := jwks.New(jwks.WithTestDefaults(jwks.Options{Fallback: fallback, Issuer: "static", Registerer: reg,
			Rejected: []jwks.Rejection{{Source: "old.pem", Reason: jwks.RejectRSATooSmall, Bits: 1024}}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.Lookup(context.Background(), kidOf(t, ed), jwa.EdDSA()); err != nil {
			t.Fatal(err)
		}
		if _, err := set.Lookup(context.Background(), w1024.KID, jwa.RS256()); !errors.Is(err, jwks.ErrUnknownKID) {
			t.Fatalf("err = %v, want ErrUnknownKID", err)
		}
		if got := rejected(t, reg)["static rsa_too_small"]; got != 2 {
			t.Fatalf("rsa_too_small = %v, want 2 (the set's and the caller's)", got)
		}
		only, err := jwk.Parse(must(json.Marshal(map[string]any{"keys": []any{w1024.JWK()}})), jwk.WithStrictKeySetParsing(false))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jwks.New(jwks.WithTestDefaults(jwks.Options{Fallback: only, Issuer: "static"})); err == nil || !strings.Contains(err.Error(), "no signature verification keys") {
			t.Fatalf("fallback of only weak keys: err = %v", err)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// logLine returns the JSON log line that mentions s.
func logLine(t *testing.T, logs, s string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no log line mentions %q:\n%s", s, logs)
	return nil
}
