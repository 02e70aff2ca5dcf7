// Package jwks fetches and caches the JSON Web Key Set of one token issuer.
package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/portcullis/portcullis/gateway/tracing"
)

const (
	// MaxRefreshInterval bounds a Cache-Control max-age.
	MaxRefreshInterval = 24 * time.Hour
	// MaxBodyBytes caps a JWKS response body.
	MaxBodyBytes = 1 << 20
	// MaxKIDBytes caps the kid Lookup accepts.
	MaxKIDBytes = 256
)

var (
	// ErrUnknownKID means no usable key has the requested kid (or, for an
	// empty kid, no single key fits the algorithm). It is a 401.
	ErrUnknownKID = errors.New("unknown kid")
	// ErrUnavailable means there is no usable key set at all: never fetched,
	// older than MaxStale, and no fallback keys. It is a 503, never a 401.
	ErrUnavailable = errors.New("jwks unavailable")
)

// Options configure a Set.
type Options struct {
	// URL is the jwks_uri. If empty, the Set serves only the Fallback keys
	// and never fetches.
	URL string
	// Client fetches URL. If nil, a client with a FetchTimeout timeout that
	// follows at most 3 redirects and never from https to http is used.
	Client *http.Client
	// RefreshInterval between fetches when the response has no max-age.
	// Required, like the other durations (authn.jwt.issuers[] in gateway/config).
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches of any
	// kind, periodic or forced by unknown kids (one limiter for both), and
	// the retry delay after a failed fetch.
	MinRefreshInterval time.Duration
	// MaxStale is how long the last good set is used while fetches fail.
	MaxStale time.Duration
	// FetchTimeout bounds one fetch.
	FetchTimeout time.Duration
	// Fallback keys are used when no fetched set is usable (never fetched
	// or older than MaxStale). May be nil. Keys that Refuse refuses are
	// left out and reported, like those of a fetched set.
	Fallback jwk.Set
	// Rejected are keys the caller refused before building Fallback (e.g.
	// PEM blocks the JOSE library cannot import); New reports them with
	// the Fallback's own.
	Rejected []Rejection
	// Logger receives fetch outcomes. The zero Logger discards.
	Logger zerolog.Logger
	// Registerer receives the metrics. If nil, they are not registered.
	Registerer prometheus.Registerer
	// Issuer is the configured issuer, used as the metric label value.
	Issuer string
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

// Set holds the keys of one issuer: the last good fetch of URL and the
// fallback keys. It is safe for concurrent use.
type Set struct {
	opts     Options
	fallback *keySet // nil when there are no fallback keys
	current  atomic.Pointer[keySet]
	metrics  *metrics

	flight   singleflight.Group
	fetching atomic.Bool
	mu       sync.Mutex // guards lastTry, due and reported
	lastTry  time.Time  // last fetch attempt, periodic or forced
	due      time.Time  // when the next periodic fetch should run
	reported [32]byte   // digest of the last document whose refusals were reported

	ctx     context.Context // cancelled by Stop; bounds every fetch
	cancel  context.CancelFunc
	started sync.Once
	done    chan struct{}
}

// New returns a Set; it fetches nothing until Start or Lookup.
func New(opts Options) (*Set, error) {
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"refresh_interval", opts.RefreshInterval}, {"min_refresh_interval", opts.MinRefreshInterval},
		{"max_stale", opts.MaxStale}, {"fetch_timeout", opts.FetchTimeout},
	} {
		if d.d <= 0 {
			return nil, fmt.Errorf("%s %s: want > 0", d.name, d.d)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.RefreshInterval = max(opts.RefreshInterval, opts.MinRefreshInterval)
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.FetchTimeout, CheckRedirect: checkRedirect}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Set{opts: opts, done: make(chan struct{}), metrics: m}
	s.report(opts.Rejected)
	if opts.Fallback != nil && opts.Fallback.Len() > 0 {
		fb, rejected, err := newKeySet(opts.Fallback, time.Time{}, nil)
		s.report(rejected)
		if err != nil {
			return nil, fmt.Errorf("fallback keys for %s: %w", opts.Issuer, err)
		}
		s.fallback = fb
	}
	if opts.URL == "" && s.fallback == nil && len(opts.Rejected) > 0 {
		return nil, fmt.Errorf("keys for %s: %w (%d refused)", opts.Issuer, errNoKeys, len(opts.Rejected))
	}
	if opts.URL == "" && s.fallback == nil {
		return nil, fmt.Errorf("jwks for %s: neither a URL nor fallback keys", opts.Issuer)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start fetches the key set in the background and then refreshes it every
// RefreshInterval (or the response's max-age, bounded to
// [MinRefreshInterval, 24h]) until ctx ends or Stop is called. It returns
// at once; Ready reports when keys are usable. Calling Start again does nothing.
func (s *Set) Start(ctx context.Context) {
	s.started.Do(func() {
		if s.opts.URL == "" {
			close(s.done)
			return
		}
		go s.loop(ctx)
	})
}

// Stop ends the refresh loop and any fetch in flight, and waits for them.
func (s *Set) Stop() {
	s.cancel()
	s.started.Do(func() { close(s.done) })
	<-s.done
}

// Ready tells whether a usable key set exists: a fetch not older than
// MaxStale, or fallback keys.
func (s *Set) Ready() bool {
	return s.usable(s.opts.Now()) != nil
}

// usable returns the fetched set if it is fresh enough, else the fallback
// set, else nil.
func (s *Set) usable(now time.Time) *keySet {
	if cur := s.current.Load(); cur != nil && now.Sub(cur.fetchedAt) <= s.opts.MaxStale {
		return cur
	}
	return s.fallback
}

// Lookup returns the key to verify a token signed with alg whose header
// names kid. The kid is used only as a map key. An unknown kid forces at most
// one refetch per MinRefreshInterval, shared by all concurrent callers;
// callers during the cooldown get ErrUnknownKID at once. An empty kid
// matches the only key usable for alg. The returned key may still not be
// Usable for alg when its kid is known; the caller must check.
func (s *Set) Lookup(ctx context.Context, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	if len(kid) > MaxKIDBytes {
		return nil, fmt.Errorf("%w: kid longer than %d bytes", ErrUnknownKID, MaxKIDBytes)
	}
	if k, err := s.find(kid, alg); err == nil || s.opts.URL == "" {
		return k, err
	}
	if err := s.refetch(ctx); err != nil {
		return nil, err
	}
	return s.find(kid, alg)
}

func (s *Set) find(kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	ks := s.usable(s.opts.Now())
	if ks == nil {
		return nil, ErrUnavailable
	}
	if k, ok := ks.find(kid, alg); ok {
		return k, nil
	}
	return nil, ErrUnknownKID
}

// Holds tells whether key, returned by an earlier Lookup for kid and alg,
// is still the key the usable set has for them, without fetching. A
// verified-token cache asks on every hit, so a key that a refresh dropped
// or changed (a new object under the same kid) stops verifying at once,
// not when the cache entry expires (issue 12, class 11). now is the
// caller's clock reading for the request (the set's own clock, Options.Now,
// is the same one), which spares a second reading per hit.
//
// held is the caller's memo, kept with what it cached (0 at first): the
// generation of the last index found to hold key. While the usable index
// is that one the answer is known without the kid's map lookup, a cache
// miss per hit under load; an unchanged document's refresh keeps it.
func (s *Set) Holds(now time.Time, kid string, alg jwa.SignatureAlgorithm, key jwk.Key, held *atomic.Uint64) bool {
	ks := s.usable(now)
	if ks == nil {
		return false
	}
	if ks.gen == held.Load() {
		return true
	}
	ok := false
	if kid != "" {
		ok = slices.Contains(ks.byKID[kid], key)
	} else {
		k, found := ks.find("", alg)
		ok = found && k == key
	}
	if ok {
		held.Store(ks.gen)
	}
	return ok
}

// refetch joins the fetch in flight or starts one if the cooldown allows.
// It returns only ctx's error; the outcome of the fetch shows in the set.
func (s *Set) refetch(ctx context.Context) error {
	if !s.fetching.Load() && !s.mayFetch(false) {
		return nil // negative result: cooldown
	}
	// The fetch is shared and outlives a request; the span is this
	// request's wait for it.
	_, span := tracing.Child(ctx, "jwks.refetch")
	ch := s.fetchShared()
	select {
	case <-ch:
		tracing.EndChild(span, 0, nil)
		return nil
	case <-ctx.Done():
		tracing.EndChild(span, 0, ctx.Err())
		return ctx.Err()
	}
}

// report logs and counts refused keys: never key material, only where
// the key was, its kid (truncated), why, and an RSA key's size.
func (s *Set) report(rejected []Rejection) {
	for _, r := range rejected {
		s.metrics.rejected.WithLabelValues(s.opts.Issuer, r.Reason).Inc()
		kid := r.KID
		if len(kid) > MaxKIDBytes {
			kid = kid[:MaxKIDBytes]
		}
		ev := s.opts.Logger.Warn().Str("issuer", s.opts.Issuer).Int("key_index", r.Index).
			Str("kid", kid).Str("reason", r.Reason)
		if r.Bits > 0 {
			ev = ev.Int("bits", r.Bits)
		}
		if r.Source != "" {
			ev = ev.Str("key_file", r.Source)
		}
		ev.Msg("jwks key refused")
	}
}

// mayFetch tells whether MinRefreshInterval has passed since the last fetch
// attempt; with claim it also records now as that attempt.
func (s *Set) mayFetch(claim bool) bool {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastTry.IsZero() && now.Sub(s.lastTry) < s.opts.MinRefreshInterval {
		return false
	}
	if claim {
		s.lastTry = now
	}
	return true
}
