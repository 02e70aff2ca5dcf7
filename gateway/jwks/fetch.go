package jwks

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"golang.org/x/sync/singleflight"
)

// loop fetches at once, then whenever tick says to.
func (s *Set) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(s.tick())
	}
}

// tick is one wake-up of the refresh loop: it fetches if the periodic
// refresh is due and the shared limiter allows it, and returns the delay
// until the next wake-up. A fetch forced by an unknown kid moves the
// periodic one out, so both kinds together never fetch more often than
// once per MinRefreshInterval (issue 12, class 11).
func (s *Set) tick() time.Duration {
	if s.wait() <= 0 {
		<-s.fetchShared()
		s.metrics.observeAge(s.opts.Issuer, s.current.Load(), s.opts.Now())
	}
	if d := s.wait(); d > 0 {
		return d
	}
	return s.opts.MinRefreshInterval
}

// wait is how long until a periodic fetch may run: not before the
// refresh the last fetch asked for, nor within MinRefreshInterval of the
// last attempt of any kind.
func (s *Set) wait() time.Duration {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.due
	if !s.lastTry.IsZero() {
		if t := s.lastTry.Add(s.opts.MinRefreshInterval); t.After(next) {
			next = t
		}
	}
	return next.Sub(now)
}

// fetchShared starts a fetch, or joins the one in flight, unless the
// limiter refuses it: the one place where both periodic and forced
// fetches claim their slot.
func (s *Set) fetchShared() <-chan singleflight.Result {
	return s.flight.DoChan("fetch", func() (any, error) {
		if !s.mayFetch(true) {
			return nil, nil
		}
		s.fetching.Store(true)
		defer s.fetching.Store(false)
		return nil, s.fetch()
	})
}

// fetch gets and installs the key set once and schedules the next
// periodic fetch. On failure the last good set stays (stale-if-error).
func (s *Set) fetch() error {
	s.metrics.fetches.WithLabelValues(s.opts.Issuer).Inc()
	doc, digest, next, err := s.get()
	now := s.opts.Now()
	var ks *keySet
	if err == nil {
		ks, err = s.install(doc, digest, now)
	}
	if err != nil {
		s.setDue(now.Add(s.opts.MinRefreshInterval))
		s.metrics.failures.WithLabelValues(s.opts.Issuer).Inc()
		s.opts.Logger.Warn().Err(err).Str("issuer", s.opts.Issuer).Str("jwks_url", s.opts.URL).
			Msg("jwks fetch failed")
		return err
	}
	s.setDue(now.Add(next))
	s.metrics.observeAge(s.opts.Issuer, ks, ks.fetchedAt)
	s.opts.Logger.Debug().Str("issuer", s.opts.Issuer).Int("keys", len(ks.all)).
		Dur("next_refresh", next).Msg("jwks fetched")
	return nil
}

// install makes doc the current set. An unchanged document (same digest)
// keeps the current index, only fresher; a changed one is indexed anew,
// its refused keys reported once, and the keys it no longer has stop
// verifying at once (see Holds).
func (s *Set) install(doc jwk.Set, digest [32]byte, now time.Time) (*keySet, error) {
	prev := s.current.Load()
	if prev != nil && prev.digest == digest {
		ks := *prev
		ks.fetchedAt = now
		s.current.Store(&ks)
		return &ks, nil
	}
	ks, rejected, err := newKeySet(doc, now, prev)
	s.mu.Lock()
	changed := s.reported != digest
	s.reported = digest
	s.mu.Unlock()
	if changed {
		s.report(rejected)
	}
	if err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	ks.digest = digest
	s.current.Store(ks)
	return ks, nil
}

func (s *Set) setDue(t time.Time) {
	s.mu.Lock()
	s.due = t
	s.mu.Unlock()
}

// get fetches and parses the document. Entries that do not parse are kept
// as placeholders (RFC 7517 §5) for newKeySet to refuse one by one: with
// the library's strict default one bad key would fail the whole set.
func (s *Set) get() (jwk.Set, [32]byte, time.Duration, error) {
	var digest [32]byte
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.URL, nil)
	if err != nil {
		return nil, digest, 0, fmt.Errorf("fetch jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return nil, digest, 0, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, digest, 0, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, digest, 0, fmt.Errorf("read jwks: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, digest, 0, fmt.Errorf("read jwks: body exceeds %d bytes", MaxBodyBytes)
	}
	set, err := jwk.Parse(body, jwk.WithStrictKeySetParsing(false))
	if err != nil {
		return nil, digest, 0, fmt.Errorf("parse jwks: %w", err)
	}
	return set, sha256.Sum256(body), s.nextRefresh(resp.Header.Values("Cache-Control")), nil
}

// nextRefresh is the response's max-age bounded to [MinRefreshInterval,
// MaxRefreshInterval], or RefreshInterval without one.
func (s *Set) nextRefresh(cacheControl []string) time.Duration {
	age, ok := maxAge(cacheControl)
	if !ok {
		return s.opts.RefreshInterval
	}
	return min(max(age, s.opts.MinRefreshInterval), MaxRefreshInterval)
}

// maxAge parses the max-age directive out of Cache-Control header values.
// Malformed or repeated-conflicting directives count as absent.
func maxAge(values []string) (time.Duration, bool) {
	var age time.Duration
	found := false
	for _, v := range values {
		for dir := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			if !strings.EqualFold(strings.TrimSpace(name), "max-age") {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return 0, false
			}
			d := time.Duration(n) * time.Second
			if found && d != age {
				return 0, false
			}
			age, found = d, true
		}
	}
	return age, found
}

// checkRedirect follows at most 3 redirects and never downgrades to http.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("jwks: too many redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("jwks: redirect from https to " + req.URL.Scheme)
	}
	return nil
}
