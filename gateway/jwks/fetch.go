package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// loop fetches at once, then whenever the last fetch says to.
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
		t.Reset(s.scheduledFetch())
	}
}

// scheduledFetch runs one periodic fetch, shared with any forced one in
// flight, and returns the delay until the next.
func (s *Set) scheduledFetch() time.Duration {
	v, err, _ := s.flight.Do("fetch", func() (any, error) {
		s.mu.Lock()
		s.lastTry = s.opts.Now()
		s.mu.Unlock()
		s.fetching.Store(true)
		defer s.fetching.Store(false)
		return s.fetch()
	})
	s.metrics.observeAge(s.opts.Issuer, s.current.Load(), s.opts.Now())
	if d, ok := v.(time.Duration); ok && err == nil {
		return d
	}
	return s.opts.MinRefreshInterval
}

// fetch gets and installs the key set once. It returns how long until the
// next refresh. On failure the last good set stays (stale-if-error).
func (s *Set) fetch() (time.Duration, error) {
	s.metrics.fetches.WithLabelValues(s.opts.Issuer).Inc()
	ks, next, err := s.get()
	if err != nil {
		s.metrics.failures.WithLabelValues(s.opts.Issuer).Inc()
		s.opts.Logger.Warn().Err(err).Str("issuer", s.opts.Issuer).Str("jwks_url", s.opts.URL).
			Msg("jwks fetch failed")
		return 0, err
	}
	s.current.Store(ks)
	s.metrics.observeAge(s.opts.Issuer, ks, ks.fetchedAt)
	s.opts.Logger.Debug().Str("issuer", s.opts.Issuer).Int("keys", len(ks.all)).
		Dur("next_refresh", next).Msg("jwks fetched")
	return next, nil
}

func (s *Set) get() (*keySet, time.Duration, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.URL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read jwks: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, 0, fmt.Errorf("read jwks: body exceeds %d bytes", MaxBodyBytes)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("parse jwks: %w", err)
	}
	ks, err := newKeySet(set, s.opts.Now())
	if err != nil {
		return nil, 0, fmt.Errorf("parse jwks: %w", err)
	}
	return ks, s.nextRefresh(resp.Header.Values("Cache-Control")), nil
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
