package jwks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
)

// TestOneLimiterForPeriodicAndForcedFetches is issue 12, class 11: the
// periodic refresh and the refetches forced by unknown kids share one
// min_refresh_interval. The refresh loop's tick is driven by hand, every
// simulated second (more often than the loop itself would), with floods
// of unknown kids in between.
func TestOneLimiterForPeriodicAndForcedFetches(t *testing.T) {
	t.Parallel()
	const minInterval, refresh = 30 * time.Second, 60 * time.Second
	tests := []struct {
		name       string
		floodEvery int // seconds between floods of unknown kids; 0 = none
		maxAge     string
		wantAtMost int // fetches in 15 simulated minutes
		wantAtLeas int
	}{
		{name: "the periodic refresh alone runs every refresh_interval", wantAtLeas: 15, wantAtMost: 16},
		{name: "a flood every second fetches once per min_refresh_interval", floodEvery: 1, wantAtLeas: 30, wantAtMost: 31},
		{name: "a flood every 29s together with the refresh", floodEvery: 29, wantAtLeas: 15, wantAtMost: 31},
		{name: "a flood every 59s just before each periodic refresh", floodEvery: 59, wantAtLeas: 15, wantAtMost: 31},
		{name: "a flood every 31s", floodEvery: 31, wantAtLeas: 15, wantAtMost: 31},
		{name: "a short max-age is bounded by min_refresh_interval", maxAge: "max-age=1", floodEvery: 7, wantAtLeas: 30, wantAtMost: 31},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := gwtest.NewJWKSServer(t, gwtest.NewECKey(t))
			srv.SetCacheControl(tc.maxAge)
			clock := gwtest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			s, err := New(WithTestDefaults(Options{URL: srv.URL(), RefreshInterval: refresh, MinRefreshInterval: minInterval, Now: clock.Now, Issuer: "x"}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			var fetchedAt []time.Time
			record := func() {
				for srv.Hits() > len(fetchedAt) {
					fetchedAt = append(fetchedAt, clock.Now())
				}
			}
			for sec := range 15 * 60 {
				s.tick()
				record()
				if tc.floodEvery > 0 && sec%tc.floodEvery == 0 {
					var wg sync.WaitGroup
					for i := range 20 {
						wg.Go(func() {
							_, _ = s.Lookup(context.Background(), fmt.Sprintf("unknown-%d-%d", sec, i), jwa.ES256())
						})
					}
					wg.Wait()
					record()
				}
				clock.Advance(time.Second)
			}
			for i := 1; i < len(fetchedAt); i++ {
				if gap := fetchedAt[i].Sub(fetchedAt[i-1]); gap < minInterval {
					t.Fatalf("fetches %d and %d are %s apart, want >= %s (all: %v)", i-1, i, gap, minInterval, fetchedAt)
				}
			}
			if n := len(fetchedAt); n < tc.wantAtLeas || n > tc.wantAtMost {
				t.Fatalf("%d fetches in 15 minutes, want %d..%d", n, tc.wantAtLeas, tc.wantAtMost)
			}
		})
	}
}

func TestTickWaitsForTheFetchItSchedules(t *testing.T) {
	t.Parallel()
	srv := gwtest.NewJWKSServer(t, gwtest.NewECKey(t))
	clock := gwtest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := New(WithTestDefaults(Options{URL: srv.URL(), RefreshInterval: time.Minute, MinRefreshInterval: 30 * time.Second, Now: clock.Now, Issuer: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if d := s.tick(); d != time.Minute || srv.Hits() != 1 {
		t.Fatalf("first tick: next in %s after %d fetches, want 1m after 1", d, srv.Hits())
	}
	clock.Advance(45 * time.Second)
	if _, err := s.Lookup(context.Background(), "unknown", jwa.ES256()); err == nil {
		t.Fatal("unknown kid found")
	}
	if srv.Hits() != 2 {
		t.Fatalf("hits = %d, want the forced fetch", srv.Hits())
	}
	// The forced fetch moved the periodic one to 45s+1m.
	clock.Advance(15 * time.Second)
	if d := s.tick(); d != 45*time.Second || srv.Hits() != 2 {
		t.Fatalf("tick at 1m: next in %s after %d fetches, want 45s after 2", d, srv.Hits())
	}
	srv.SetMode(gwtest.ModeFail)
	clock.Advance(45 * time.Second)
	if d := s.tick(); d != 30*time.Second || srv.Hits() != 3 {
		t.Fatalf("failed tick: next in %s after %d fetches, want min_refresh_interval after 3", d, srv.Hits())
	}
}
