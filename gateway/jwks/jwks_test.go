package jwks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/jwks"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	srv   *gwtest.JWKSServer
	clock *gwtest.Clock
	set   *jwks.Set
	reg   *prometheus.Registry
}

func newFixture(t *testing.T, fallback jwk.Set, keys ...jwk.Key) *fixture {
	t.Helper()
	f := &fixture{srv: gwtest.NewJWKSServer(t, keys...), clock: gwtest.NewClock(t0), reg: prometheus.NewRegistry()}
	set, err := jwks.New(jwks.WithTestDefaults(jwks.Options{
		URL:                f.srv.URL(),
		MinRefreshInterval: 30 * time.Second,
		MaxStale:           time.Hour,
		FetchTimeout:       2 * time.Second,
		Fallback:           fallback,
		Registerer:         f.reg,
		Issuer:             "https://issuer.test",
		Now:                f.clock.Now,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Stop)
	f.set = set
	return f
}

func kidOf(t *testing.T, k jwk.Key) string {
	t.Helper()
	kid, ok := k.KeyID()
	if !ok {
		t.Fatal("key has no kid")
	}
	return kid
}

func (f *fixture) lookup(t *testing.T, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	t.Helper()
	return f.set.Lookup(context.Background(), kid, alg)
}

func TestLookup(t *testing.T) {
	t.Parallel()
	ec := gwtest.NewECKey(t)
	ed := gwtest.NewEdKey(t)
	ec2 := gwtest.NewECKey(t)
	tests := []struct {
		name    string
		keys    []jwk.Key
		kid     string
		alg     jwa.SignatureAlgorithm
		wantKID string
		wantErr error
	}{
		{name: "known kid is found on the first lookup", keys: []jwk.Key{ec, ed}, kid: kidOf(t, ed), alg: jwa.EdDSA(), wantKID: kidOf(t, ed)},
		{name: "unknown kid is ErrUnknownKID", keys: []jwk.Key{ec}, kid: "nope", alg: jwa.ES256(), wantErr: jwks.ErrUnknownKID},
		{name: "empty kid picks the only key usable for the alg", keys: []jwk.Key{ec, ed}, alg: jwa.ES256(), wantKID: kidOf(t, ec)},
		{name: "empty kid with two usable keys is ErrUnknownKID", keys: []jwk.Key{ec, ec2}, alg: jwa.ES256(), wantErr: jwks.ErrUnknownKID},
		{name: "empty kid with no usable key is ErrUnknownKID", keys: []jwk.Key{ed}, alg: jwa.ES256(), wantErr: jwks.ErrUnknownKID},
		{name: "path traversal kid is only a map key", keys: []jwk.Key{ec}, kid: "../../dev/null", alg: jwa.ES256(), wantErr: jwks.ErrUnknownKID},
		{name: "SQL kid is only a map key", keys: []jwk.Key{ec}, kid: "' OR 1=1 --", alg: jwa.ES256(), wantErr: jwks.ErrUnknownKID},
		{name: "10 KB kid is refused", keys: []jwk.Key{ec}, kid: strings.Repeat("k", 10<<10), alg: jwa.ES256(), wantErr: jwks.ErrUnknownKID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil, tc.keys...)
			got, err := f.lookup(t, tc.kid, tc.alg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if kid := kidOf(t, got); kid != tc.wantKID {
				t.Fatalf("kid = %q, want %q", kid, tc.wantKID)
			}
			if priv, _ := jwk.IsPrivateKey(got); priv {
				t.Fatal("Lookup returned a private key")
			}
		})
	}
}

func TestLookupOfTooLongKIDDoesNotFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, gwtest.NewECKey(t))
	if _, err := f.lookup(t, strings.Repeat("x", jwks.MaxKIDBytes+1), jwa.ES256()); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Fatalf("err = %v, want ErrUnknownKID", err)
	}
	if n := f.srv.Hits(); n != 0 {
		t.Fatalf("server hits = %d, want 0", n)
	}
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	key := gwtest.NewECKey(t)
	f := newFixture(t, nil, key)
	if _, err := f.lookup(t, kidOf(t, key), jwa.ES256()); err != nil {
		t.Fatal(err)
	}
	f.srv.SetMode(gwtest.ModeFail)

	t.Run("known key keeps working while the server is down", func(t *testing.T) {
		f.clock.Advance(10 * time.Minute)
		if _, err := f.lookup(t, "rotated", jwa.ES256()); !errors.Is(err, jwks.ErrUnknownKID) {
			t.Fatalf("unknown kid: err = %v, want ErrUnknownKID", err)
		}
		if _, err := f.lookup(t, kidOf(t, key), jwa.ES256()); err != nil {
			t.Fatalf("known kid: %v", err)
		}
		if !f.set.Ready() {
			t.Fatal("Ready() = false within MaxStale")
		}
	})
	t.Run("a set older than MaxStale is unavailable", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		if _, err := f.lookup(t, kidOf(t, key), jwa.ES256()); !errors.Is(err, jwks.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if f.set.Ready() {
			t.Fatal("Ready() = true past MaxStale")
		}
	})
	t.Run("recovery makes the set usable again", func(t *testing.T) {
		f.srv.SetMode(gwtest.ModeOK)
		f.clock.Advance(time.Minute)
		if _, err := f.lookup(t, kidOf(t, key), jwa.ES256()); err != nil {
			t.Fatal(err)
		}
	})
	if got := metric(t, f.reg, "portcullis_jwks_fetch_failures_total"); got < 2 {
		t.Fatalf("failures metric = %v, want >= 2", got)
	}
}

// metric returns the value of the counter or gauge name in reg (0 if absent).
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return 0
}

func TestFallback(t *testing.T) {
	t.Parallel()
	pinned := gwtest.NewECKey(t)
	served := gwtest.NewECKey(t)
	f := newFixture(t, gwtest.PublicSet(t, pinned), served)

	t.Run("fallback keys serve when the server never answered", func(t *testing.T) {
		f.srv.SetMode(gwtest.ModeFail)
		if !f.set.Ready() {
			t.Fatal("Ready() = false with fallback keys")
		}
		if _, err := f.lookup(t, kidOf(t, pinned), jwa.ES256()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a fresh fetched set replaces the fallback keys", func(t *testing.T) {
		f.srv.SetMode(gwtest.ModeOK)
		f.clock.Advance(time.Minute)
		if _, err := f.lookup(t, kidOf(t, served), jwa.ES256()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.lookup(t, kidOf(t, pinned), jwa.ES256()); !errors.Is(err, jwks.ErrUnknownKID) {
			t.Fatalf("err = %v, want ErrUnknownKID", err)
		}
	})
}

func TestStaticSetNeverFetches(t *testing.T) {
	t.Parallel()
	key := gwtest.NewEdKey(t)
	set, err := jwks.New(jwks.WithTestDefaults(jwks.Options{Fallback: gwtest.PublicSet(t, key), Issuer: "static"}))
	if err != nil {
		t.Fatal(err)
	}
	set.Start(context.Background())
	defer set.Stop()
	if _, err := set.Lookup(context.Background(), kidOf(t, key), jwa.EdDSA()); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Lookup(context.Background(), "other", jwa.EdDSA()); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Fatalf("err = %v, want ErrUnknownKID", err)
	}
}

func TestNewRejectsUselessOptions(t *testing.T) {
	t.Parallel()
	if _, err := jwks.New(jwks.WithTestDefaults(jwks.Options{Issuer: "x"})); err == nil || !strings.Contains(err.Error(), "neither a URL nor fallback keys") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyRotationRefetchesOnce(t *testing.T) {
	t.Parallel()
	old, next := gwtest.NewECKey(t), gwtest.NewECKey(t)
	f := newFixture(t, nil, old)
	if _, err := f.lookup(t, kidOf(t, old), jwa.ES256()); err != nil {
		t.Fatal(err)
	}
	f.srv.SetKeys(t, old, next)
	f.clock.Advance(31 * time.Second)
	before := f.srv.Hits()
	if _, err := f.lookup(t, kidOf(t, next), jwa.ES256()); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if _, err := f.lookup(t, kidOf(t, next), jwa.ES256()); err != nil {
		t.Fatalf("rotated key again: %v", err)
	}
	if got := f.srv.Hits() - before; got != 1 {
		t.Fatalf("fetches for the rotation = %d, want 1", got)
	}
}

func TestUnknownKIDFloodFetchesAtMostOnce(t *testing.T) {
	t.Parallel()
	key := gwtest.NewECKey(t)
	f := newFixture(t, nil, key)
	if _, err := f.lookup(t, kidOf(t, key), jwa.ES256()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute) // the cooldown is over: one refetch is allowed
	before := f.srv.Hits()
	// Ten waves of 100 concurrent callers: concurrent ones share a fetch,
	// later waves fall in the cooldown.
	for wave := range 10 {
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				if _, err := f.lookup(t, fmt.Sprintf("random-%d-%d", wave, i), jwa.ES256()); !errors.Is(err, jwks.ErrUnknownKID) {
					t.Errorf("kid %d-%d: err = %v, want ErrUnknownKID", wave, i, err)
				}
			})
		}
		wg.Wait()
	}
	if got := f.srv.Hits() - before; got > 1 {
		t.Fatalf("extra fetches = %d, want at most 1", got)
	}
}

func TestFetchFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode gwtest.Mode
	}{
		{name: "a 500 answer is a failure", mode: gwtest.ModeFail},
		{name: "a hanging server times out", mode: gwtest.ModeHang},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := gwtest.NewJWKSServer(t, gwtest.NewECKey(t))
			srv.SetMode(tc.mode)
			set, err := jwks.New(jwks.WithTestDefaults(jwks.Options{URL: srv.URL(), FetchTimeout: 200 * time.Millisecond, Issuer: "x"}))
			if err != nil {
				t.Fatal(err)
			}
			defer set.Stop()
			if _, err := set.Lookup(context.Background(), "k", jwa.ES256()); !errors.Is(err, jwks.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestStartFetchesInBackgroundAndStopEnds(t *testing.T) {
	t.Parallel()
	key := gwtest.NewRSAKey(t)
	srv := gwtest.NewJWKSServer(t, key)
	set, err := jwks.New(jwks.WithTestDefaults(jwks.Options{URL: srv.URL(), Issuer: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	set.Start(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for !set.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("set never became ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	set.Stop()
	set.Stop() // idempotent
	if _, err := set.Lookup(context.Background(), kidOf(t, key), jwa.RS256()); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsSurviveASecondSetOnTheSameRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := jwks.New(jwks.WithTestDefaults(jwks.Options{URL: "http://127.0.0.1:1/", Registerer: reg, Issuer: "x"})); err != nil {
			t.Fatal(err)
		}
	}
}
