// Package introspect authenticates opaque bearer tokens with RFC 7662 token introspection.
package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/tracing"
	"github.com/portcullis/portcullis/internal/promreg"
	"github.com/portcullis/portcullis/policy"
)

// Reason codes of the problems Authenticate returns.
const (
	ReasonInactive         = "token_inactive"
	ReasonExpired          = "token_expired"
	ReasonNotYetValid      = "token_not_yet_valid"
	ReasonIssuerMismatch   = "token_issuer_mismatch"
	ReasonAudienceMismatch = "token_audience_mismatch"
	ReasonTooLarge         = "token_too_large"
	ReasonUnavailable      = "introspection_unavailable"
	ReasonTokenType        = "token_type_not_allowed"
)

const (
	// MaxResponseBytes caps an introspection response body.
	MaxResponseBytes = 64 << 10
	// MaxTokenBytes rejects longer tokens without calling the endpoint.
	MaxTokenBytes = 16 << 10
	// retryAfter is sent with the 503 when the endpoint is down.
	retryAfter = "5"
)

// Options are the dependencies of a Client. The zero value works.
type Options struct {
	// Logger receives endpoint failures (never the token).
	Logger zerolog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// HTTPClient makes the calls. If nil, a client that does not follow
	// redirects (the token and client secret must never be re-sent elsewhere)
	// is used. The call is always bounded by the configured timeout.
	HTTPClient *http.Client
	// Now is the clock used for exp, nbf and cache lifetimes; nil means time.Now.
	Now func() time.Time
}

// Client is an RFC 7662 client and a [pipeline.Authenticator] for bearer
// tokens. Results are cached under SHA-256(endpoint, token), so the token is
// never stored; exp, nbf, issuer and audiences are checked on every use,
// cached or not. It is safe for concurrent use.
type Client struct {
	cfg       config.Introspection
	types     map[string]bool // accepted token_type values, lower case
	keyPrefix []byte          // endpoint + "\x00", hashed before the token
	basicAuth string          // Authorization value for client_secret_basic, else ""
	http      *http.Client
	ownHTTP   bool
	now       func() time.Time
	log       zerolog.Logger
	cache     *expirable.LRU[[sha256.Size]byte, *entry]
	flight    singleflight.Group
	m         clientMetrics
}

// entry is a cached result, valid until until (by the injected clock).
type entry struct {
	resp  *response
	until time.Time
}

type clientMetrics struct {
	hits, misses, calls, errors prometheus.Counter
	latency                     prometheus.Observer
}

var _ pipeline.Authenticator = (*Client)(nil)

// New returns a client for cfg, which must have been defaulted and validated
// by the config package (New re-checks what it depends on). Call Close when
// the client is replaced.
func New(cfg config.Introspection, opts Options) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("introspection endpoint %q: want an absolute http(s) URL", cfg.Endpoint)
	}
	switch {
	case cfg.Timeout <= 0:
		return nil, fmt.Errorf("introspection timeout %s: want > 0", cfg.Timeout)
	case cfg.CacheSize < 0:
		return nil, fmt.Errorf("introspection cache_size %d: want >= 0 (0 turns the cache off)", cfg.CacheSize)
	case cfg.CacheTTL < 0 || cfg.NegativeTTL < 0:
		return nil, errors.New("introspection cache_ttl and negative_ttl: want >= 0")
	case cfg.OnError != "unavailable" && cfg.OnError != "unauthorized":
		return nil, fmt.Errorf("introspection on_error %q: want \"unavailable\" or \"unauthorized\"", cfg.OnError)
	case len(cfg.TokenTypes) == 0:
		return nil, errors.New("introspection token_types: want at least one")
	}
	c := &Client{
		cfg:       cfg,
		types:     make(map[string]bool, len(cfg.TokenTypes)),
		keyPrefix: []byte(cfg.Endpoint + "\x00"),
		http:      opts.HTTPClient,
		now:       opts.Now,
		log:       opts.Logger.With().Str("introspection_endpoint", cfg.Endpoint).Logger(),
		// The library's TTL only frees memory; each entry's own deadline
		// (min(cache_ttl, exp-now), or negative_ttl) is enforced on read.
		// With the cache off nothing is added, so the one-entry LRU stays
		// empty (the library reads a size of 0 as unbounded).
		cache: expirable.NewLRU[[sha256.Size]byte, *entry](max(cfg.CacheSize, 1), nil, max(cfg.CacheTTL, cfg.NegativeTTL)),
	}
	for _, t := range cfg.TokenTypes {
		c.types[strings.ToLower(t)] = true
	}
	switch cfg.AuthMethod {
	case "client_secret_basic":
		// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
		c.basicAuth = "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret.Value())))
	case "client_secret_post":
	default:
		return nil, fmt.Errorf("introspection auth_method %q: want client_secret_basic or client_secret_post", cfg.AuthMethod)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.http == nil {
		c.ownHTTP = true
		c.http = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	reg := opts.Registerer
	counter := func(name, help string) prometheus.Counter {
		return promreg.MustRegister(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "portcullis_introspection_" + name, Help: help}))
	}
	c.m = clientMetrics{
		hits:   counter("cache_hits_total", "Introspection results served from the cache."),
		misses: counter("cache_misses_total", "Introspection lookups not in the cache."),
		calls:  counter("requests_total", "Calls made to the introspection endpoint."),
		errors: counter("errors_total", "Introspection calls that failed (transport, status, body or decode)."),
		latency: promreg.MustRegister(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "portcullis_introspection_request_duration_seconds",
			Help:    "Duration of calls to the introspection endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 10),
		})),
	}
	return c, nil
}

// Close drops the cached results and idle connections. The client must not
// be used afterwards. (The cache library keeps one idle cleanup goroutine
// for the life of the process; Close leaves it nothing to hold.)
func (c *Client) Close() {
	c.cache.Purge()
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
}

// Authenticate implements [pipeline.Authenticator] for credentials of kind
// "bearer"; others get [pipeline.ErrNoCredential]. An inactive token gets
// 401 token_inactive; an endpoint that is down, slow or answers nonsense
// gets 503 introspection_unavailable with Retry-After (or 401 with the same
// reason when on_error is "unauthorized"), never an allow.
func (c *Client) Authenticate(ctx context.Context, cred pipeline.Credential) (*policy.Identity, error) {
	if cred.Kind != "bearer" {
		return nil, pipeline.ErrNoCredential
	}
	if len(cred.Value) > MaxTokenBytes {
		return nil, problem.Unauthorized(ReasonTooLarge, "the access token is too large", nil)
	}
	key := c.key(cred.Value)
	now := c.now()
	if e := c.lookup(key, now); e != nil {
		c.m.hits.Inc()
		return c.check(key, e.resp, now)
	}
	c.m.misses.Inc()
	if err := ctx.Err(); err != nil {
		return nil, c.unavailable(err) // the client is gone: do not call for it
	}
	// Concurrent misses for one token share one call. The call runs on a
	// context that the first caller's cancellation does not end (others wait
	// for it), bounded by the timeout; each caller may still leave early.
	ch := c.flight.DoChan(string(key[:]), func() (any, error) {
		if e := c.lookup(key, c.now()); e != nil {
			return e.resp, nil // filled by a call that just finished
		}
		return c.fetch(context.WithoutCancel(ctx), cred.Value, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, c.unavailable(res.Err)
		}
		return c.check(key, res.Val.(*response), c.now())
	case <-ctx.Done():
		return nil, c.unavailable(ctx.Err())
	}
}

func (c *Client) key(token string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.keyPrefix)
	h.Write([]byte(token))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// lookup returns the unexpired cache entry for key, or nil.
func (c *Client) lookup(key [sha256.Size]byte, now time.Time) *entry {
	e, ok := c.cache.Get(key)
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		c.cache.Remove(key)
		return nil
	}
	return e
}

// fetch calls the endpoint and caches the result. Errors are not cached.
func (c *Client) fetch(ctx context.Context, token string, key [sha256.Size]byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	c.m.calls.Inc()
	start := time.Now()
	resp, err := c.call(ctx, token)
	c.m.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.errors.Inc()
		c.log.Error().Err(err).Msg("introspection failed")
		return nil, err
	}
	now := c.now()
	ttl := c.cfg.NegativeTTL
	if resp.active {
		ttl = c.cfg.CacheTTL
		if !resp.exp.IsZero() {
			ttl = min(ttl, resp.exp.Sub(now)) // never cache past exp
		}
	}
	if ttl > 0 && c.cfg.CacheSize > 0 {
		c.cache.Add(key, &entry{resp: resp, until: now.Add(ttl)})
	}
	return resp, nil
}

func (c *Client) call(ctx context.Context, token string) (*response, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if c.basicAuth == "" {
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret.Value())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.basicAuth != "" {
		req.Header.Set("Authorization", c.basicAuth)
	}
	ctx, span := tracing.Child(ctx, "introspect")
	res, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		tracing.EndChild(span, 0, err)
		return nil, fmt.Errorf("introspection call: %w", err)
	}
	defer res.Body.Close()
	tracing.EndChild(span, res.StatusCode, nil)
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read introspection response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspection response status %d", res.StatusCode)
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("introspection response exceeds %d bytes", MaxResponseBytes)
	}
	return decodeResponse(body)
}

// check applies the per-use checks to a result, cached or fresh, and builds
// the identity. Claims and Scopes are shared with the cache: read-only.
func (c *Client) check(key [sha256.Size]byte, r *response, now time.Time) (*policy.Identity, error) {
	switch {
	case !r.active:
		return nil, problem.Unauthorized(ReasonInactive, "the access token is not active", nil)
	case r.hasTokenType && !c.types[strings.ToLower(r.tokenType)]:
		// A refresh or ID token that the server reports active is still not
		// a credential for an API call (issue 12, class 11). Token types are
		// compared without case: RFC 6749 §5.1 says so of "Bearer", and no
		// two registered types differ only in case.
		return nil, problem.Unauthorized(ReasonTokenType, "the token is not an access token", nil)
	case !r.exp.IsZero() && !now.Before(r.exp):
		c.cache.Remove(key)
		return nil, problem.Unauthorized(ReasonExpired, "the access token has expired", nil)
	case !r.nbf.IsZero() && now.Before(r.nbf):
		return nil, problem.Unauthorized(ReasonNotYetValid, "the access token is not valid yet", nil)
	case c.cfg.Issuer != "" && r.iss != c.cfg.Issuer:
		return nil, problem.Unauthorized(ReasonIssuerMismatch, "the access token has an unexpected issuer", nil)
	case len(c.cfg.Audiences) > 0 && !slices.ContainsFunc(r.aud, func(a string) bool { return slices.Contains(c.cfg.Audiences, a) }):
		return nil, problem.Unauthorized(ReasonAudienceMismatch, "the access token is not meant for this audience", nil)
	}
	subject := r.sub
	if subject == "" {
		// A client_credentials token has no end user: the client is the subject.
		subject = r.clientID
	}
	return &policy.Identity{
		Authenticated: true,
		Method:        policy.MethodIntrospection,
		Subject:       subject,
		Issuer:        r.iss,
		Consumer:      r.clientID,
		Scopes:        r.scopes,
		Claims:        r.claims,
		ExpiresAt:     r.exp,
		// No Memo, as for JWTs: the cache holds up to cache_size responses,
		// and a policy value of each would multiply what the garbage
		// collector marks. The identity's JSON (bytes, nothing to mark) is
		// kept with the cached response, for every identity made from it.
		JSON: &r.identityJSON,
	}, nil
}

// unavailable is the fail-closed answer when introspection cannot decide.
func (c *Client) unavailable(err error) *problem.Problem {
	const detail = "the access token cannot be checked right now"
	if c.cfg.OnError == "unauthorized" {
		return problem.Unauthorized(ReasonUnavailable, detail, err)
	}
	return problem.Wrap(http.StatusServiceUnavailable, ReasonUnavailable, detail, err).WithHeader("Retry-After", retryAfter)
}
