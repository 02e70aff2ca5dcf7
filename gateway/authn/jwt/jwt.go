// Package jwt authenticates bearer tokens that are JWS-signed JWTs.
package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/jwks"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

var _ pipeline.Authenticator = (*Authenticator)(nil)

// Options are the dependencies of an Authenticator.
type Options struct {
	// Logger receives key-set events. The zero Logger discards.
	Logger zerolog.Logger
	// Registerer receives the metrics. If nil, they are not registered.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
	// HTTPClient fetches JWKS documents; nil means each key set builds its
	// own (see jwks.Options.Client).
	HTTPClient *http.Client
	// Previous is the authenticator this one replaces (a reload): an
	// issuer whose key source (JWKS URL, refresh settings, key files) is
	// unchanged takes over its key set, fetched keys and refresh loop
	// included, so a change to, say, its audiences does not cold-start it.
	Previous *Authenticator
}

// Authenticator verifies JWTs against the configured issuers. It is safe
// for concurrent use.
type Authenticator struct {
	issuers  map[string]*issuer
	order    []*issuer // config order, for Ready's messages
	algs     map[string]jwa.SignatureAlgorithm
	maxBytes int
	cache    *tokenCache // nil when disabled
	now      func() time.Time
	metrics  *metrics
}

// issuer is one configured issuer, ready for use.
type issuer struct {
	name        string
	hmac        bool
	algs        []jwa.SignatureAlgorithm
	secret      jwk.Key   // HMAC issuers
	keys        *jwks.Set // public-key issuers
	audiences   []string
	required    []string
	skew        time.Duration
	maxAge      time.Duration
	groupsClaim string
	retryAfter  string
	// source is what keys was built from; equal sources share a key set.
	source keySource
}

// keySource is everything a key set is built from.
type keySource struct {
	url                                         string
	refresh, minRefresh, maxStale, fetchTimeout time.Duration
	fallback                                    string // the key files' keys, as JSON
}

// New builds an Authenticator from cfg, loading every key file. Key sets
// are not fetched until Start. cfg is taken as loaded (config.Load sets
// the defaults): a MaxTokenBytes below 1 is refused and a CacheSize of 0
// turns the cache off.
func New(cfg config.JWT, opts Options) (*Authenticator, error) {
	switch {
	case cfg.MaxTokenBytes < 1:
		return nil, fmt.Errorf("jwt max_token_bytes %d: want > 0", cfg.MaxTokenBytes)
	case cfg.CacheSize < 0:
		return nil, fmt.Errorf("jwt cache_size %d: want >= 0 (0 turns the cache off)", cfg.CacheSize)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{
		issuers:  make(map[string]*issuer, len(cfg.Issuers)),
		algs:     make(map[string]jwa.SignatureAlgorithm),
		maxBytes: int(cfg.MaxTokenBytes),
		now:      opts.Now,
		metrics:  m,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.cache, err = newTokenCache(cfg.CacheSize); err != nil {
		return nil, err
	}
	for i := range cfg.Issuers {
		is, err := newIssuer(&cfg.Issuers[i], opts)
		if err != nil {
			return nil, err
		}
		if a.issuers[is.name] != nil {
			return nil, fmt.Errorf("jwt issuer %q: configured twice", is.name)
		}
		a.issuers[is.name] = is
		a.order = append(a.order, is)
		for _, alg := range is.algs {
			a.algs[alg.String()] = alg
		}
	}
	return a, nil
}

func newIssuer(c *config.Issuer, opts Options) (*issuer, error) {
	switch {
	case c.ClockSkew == nil:
		return nil, fmt.Errorf("jwt issuer %q: no clock_skew", c.Issuer)
	case c.GroupsClaim == "":
		return nil, fmt.Errorf("jwt issuer %q: no groups_claim", c.Issuer)
	}
	is := &issuer{
		name:        c.Issuer,
		audiences:   c.Audiences,
		required:    c.RequiredClaims,
		skew:        *c.ClockSkew,
		maxAge:      c.MaxTokenAge,
		groupsClaim: c.GroupsClaim,
	}
	for _, name := range c.Algorithms {
		alg, ok := jwa.LookupSignatureAlgorithm(name)
		if !ok || alg == jwa.NoSignature() {
			return nil, fmt.Errorf("jwt issuer %q: algorithm %q is not supported", is.name, name)
		}
		is.algs = append(is.algs, alg)
	}
	if len(is.algs) == 0 {
		return nil, fmt.Errorf("jwt issuer %q: no algorithms", is.name)
	}
	is.hmac = is.algs[0].IsSymmetric()
	for _, alg := range is.algs {
		if alg.IsSymmetric() != is.hmac {
			return nil, fmt.Errorf("jwt issuer %q: mixes HMAC and public-key algorithms", is.name)
		}
	}
	if is.hmac {
		k, err := jwk.Import([]byte(c.Secret.Value()))
		if err != nil {
			return nil, fmt.Errorf("jwt issuer %q: secret: %w", is.name, err)
		}
		is.secret = k
		return is, nil
	}
	fallback, rejected, err := loadKeys(c.Keys)
	if err != nil {
		return nil, fmt.Errorf("jwt issuer %q: %w", is.name, err)
	}
	fb, err := json.Marshal(fallback)
	if err != nil {
		return nil, fmt.Errorf("jwt issuer %q: %w", is.name, err)
	}
	is.source = keySource{c.JWKSURI, c.RefreshInterval, c.MinRefreshInterval, c.MaxStale, c.FetchTimeout, string(fb)}
	is.retryAfter = strconv.Itoa(int(math.Ceil(c.MinRefreshInterval.Seconds())))
	if p := opts.Previous; p != nil {
		if old := p.issuers[is.name]; old != nil && old.keys != nil && old.source == is.source {
			is.keys = old.keys
			return is, nil
		}
	}
	is.keys, err = jwks.New(jwks.Options{
		URL:                c.JWKSURI,
		Client:             opts.HTTPClient,
		RefreshInterval:    c.RefreshInterval,
		MinRefreshInterval: c.MinRefreshInterval,
		MaxStale:           c.MaxStale,
		FetchTimeout:       c.FetchTimeout,
		Fallback:           fallback,
		Rejected:           rejected,
		Logger:             opts.Logger,
		Registerer:         opts.Registerer,
		Issuer:             is.name,
		Now:                opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("jwt issuer %q: %w", is.name, err)
	}
	return is, nil
}

// Start fetches every issuer's key set in the background and keeps it fresh
// until ctx ends or Stop is called.
func (a *Authenticator) Start(ctx context.Context) {
	for _, is := range a.order {
		if is.keys != nil {
			is.keys.Start(ctx)
		}
	}
}

// Stop ends the key-set refreshes.
func (a *Authenticator) Stop() { a.StopExcept(nil) }

// StopExcept ends the refreshes of the key sets that next (built with
// Options.Previous a) did not take over.
func (a *Authenticator) StopExcept(next *Authenticator) {
	for _, is := range a.order {
		if is.keys != nil && next.KeySet(is.name) != is.keys {
			is.keys.Stop()
		}
	}
}

// KeySet returns the key set of an issuer; nil for an HMAC issuer, an
// unknown one, or a nil a.
func (a *Authenticator) KeySet(issuer string) *jwks.Set {
	if a == nil || a.issuers[issuer] == nil {
		return nil
	}
	return a.issuers[issuer].keys
}

// Ready returns nil when every issuer has usable keys, else an error
// naming the first issuer that has none.
func (a *Authenticator) Ready() error {
	for _, is := range a.order {
		if is.keys != nil && !is.keys.Ready() {
			return fmt.Errorf("jwt issuer %q: no usable keys yet", is.name)
		}
	}
	return nil
}

// Authenticate verifies a bearer JWT. It returns pipeline.ErrNoCredential
// for a credential that is not a bearer token or not JWS-shaped (it may be
// an opaque token for introspection), a 401 *problem.Problem with a
// stable reason for an invalid token, and a 503 *problem.Problem
// (jwks_unavailable) when the issuer's keys cannot be had.
//
// Identities of cached tokens are shallow copies sharing Groups, Scopes
// and Claims with the cache: callers must not modify those.
func (a *Authenticator) Authenticate(ctx context.Context, cred pipeline.Credential) (*policy.Identity, error) {
	return a.AuthenticateInto(ctx, cred, nil)
}

// AuthenticateInto is Authenticate writing the copy of a cached token's
// identity to dst, when not nil, rather than to a new one: storage the
// request already has (see authn.IdentityPart) spares an allocation per
// request. Use the result, not dst: without the cache the identity is the
// verification's own.
func (a *Authenticator) AuthenticateInto(ctx context.Context, cred pipeline.Credential, dst *policy.Identity) (*policy.Identity, error) {
	if cred.Kind != "bearer" {
		return nil, pipeline.ErrNoCredential
	}
	id, err := a.authenticate(ctx, cred.Value, dst)
	if err == nil { // before problem.As, whose target escapes: no allocation on success
		a.metrics.ok()
		return id, nil
	}
	switch p := problem.As(err); {
	case errors.Is(err, pipeline.ErrNoCredential):
	case p != nil:
		a.metrics.verifications.WithLabelValues(string(p.Reason)).Inc()
	default:
		a.metrics.verifications.WithLabelValues("error").Inc()
	}
	return id, err
}

func (a *Authenticator) authenticate(ctx context.Context, token string, dst *policy.Identity) (*policy.Identity, error) {
	if len(token) > a.maxBytes {
		return nil, problem.Unauthorized(ReasonTooLarge, "the token is too large", nil)
	}
	now := a.now()
	var key [32]byte
	if a.cache != nil {
		// A hit is the very token verified before (same SHA-256), so its
		// shape needs no second look.
		key = cacheKey(token)
		if e, ok := a.cache.get(key, now); ok && a.issuers[e.iss.name] == e.iss && a.cache.keyHeld(key, e, now) {
			a.metrics.cacheHits.Inc()
			if err := e.validity.check(now, e.iss); err != nil {
				return nil, err
			}
			return copyTo(dst, e.id), nil
		}
	}
	switch parts(token) {
	case 3:
	case 5:
		return nil, problem.Unauthorized(ReasonJWE, "encrypted tokens (JWE) are not supported", nil)
	default:
		return nil, pipeline.ErrNoCredential
	}
	if a.cache == nil {
		e, err := a.verify(ctx, token, now)
		if err != nil {
			return nil, err
		}
		return e.id, nil
	}
	a.metrics.cacheMisses.Inc()
	e, err := a.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	a.cache.add(key, e, now)
	return copyTo(dst, e.id), nil
}

// copyTo copies a cached identity, shared by every hit, to dst or, when
// dst is nil, to a new one: the caller may modify the copy (not the maps
// and slices it shares).
func copyTo(dst, id *policy.Identity) *policy.Identity {
	if dst == nil {
		dst = new(policy.Identity)
	}
	*dst = *id
	return dst
}

// verify checks a JWS-shaped token in the order: header (bounded) → alg →
// issuer (from the unverified payload, only to pick the keys) → key →
// signature with that one key and the pinned alg → claims.
func (a *Authenticator) verify(ctx context.Context, token string, now time.Time) (*cached, error) {
	hseg, rest, _ := strings.Cut(token, ".")
	pseg, _, _ := strings.Cut(rest, ".")
	hdr, err := decodeSegment(hseg, maxHeaderBytes)
	if err != nil {
		return nil, problem.Unauthorized(ReasonMalformed, "the token header is malformed", err)
	}
	alg, kid, err := a.checkHeader(hdr)
	if err != nil {
		return nil, err
	}
	claims, err := decodeSegment(pseg, a.maxBytes)
	if err != nil {
		return nil, problem.Unauthorized(ReasonMalformed, "the token payload is malformed", err)
	}
	name, err := issuerName(claims)
	if err != nil {
		return nil, err
	}
	is := a.issuers[name]
	if is == nil {
		return nil, problem.Unauthorized(ReasonIssuerUnknown, "the token's issuer is not trusted", nil)
	}
	key, err := is.key(ctx, kid, alg)
	if err != nil {
		return nil, err
	}
	// The header's jwk, jku, x5u and x5c are never looked at: only the
	// configured key, with the alg pinned, can verify.
	if _, err := jws.VerifyCompactFast(key, []byte(token), alg); err != nil {
		return nil, problem.Unauthorized(ReasonBadSignature, "the token signature is invalid", err)
	}
	v, err := validateClaims(claims, is, now)
	if err != nil {
		return nil, err
	}
	return &cached{id: identity(compact(claims), is, kid, v), iss: is, validity: v, kid: kid, alg: alg, key: key}, nil
}

// checkHeader applies the header rules that need no issuer.
func (a *Authenticator) checkHeader(hdr map[string]any) (jwa.SignatureAlgorithm, string, error) {
	name, ok := hdr["alg"].(string)
	if !ok {
		return jwa.EmptySignatureAlgorithm(), "", problem.Unauthorized(ReasonMalformed, "the token header has no alg", nil)
	}
	if strings.EqualFold(name, "none") {
		return jwa.EmptySignatureAlgorithm(), "", problem.Unauthorized(ReasonAlgNone, "unsigned tokens are not accepted", nil)
	}
	if _, ok := hdr["crit"]; ok {
		return jwa.EmptySignatureAlgorithm(), "", problem.Unauthorized(ReasonCritUnsupported, "the token has critical header parameters", nil)
	}
	if _, ok := hdr["b64"]; ok { // RFC 7797 without crit is invalid
		return jwa.EmptySignatureAlgorithm(), "", problem.Unauthorized(ReasonMalformed, "the token header has b64 outside crit", nil)
	}
	if err := checkType(hdr); err != nil {
		return jwa.EmptySignatureAlgorithm(), "", err
	}
	alg, ok := a.algs[name]
	if !ok {
		return jwa.EmptySignatureAlgorithm(), "", problem.Unauthorized(ReasonAlgNotAllowed, "the token's algorithm is not allowed", nil)
	}
	kid := ""
	if v, ok := hdr["kid"]; ok {
		if kid, ok = v.(string); !ok {
			return jwa.EmptySignatureAlgorithm(), "", problem.Unauthorized(ReasonMalformed, "the token's kid is not a string", nil)
		}
	}
	return alg, kid, nil
}

// key returns the key that must have signed a token with alg and kid.
func (is *issuer) key(ctx context.Context, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	if alg.IsSymmetric() != is.hmac {
		// An HS token for an issuer with public keys (or the reverse): the
		// RS/HS confusion of CVE-2016-10555.
		return nil, problem.Unauthorized(ReasonKeyAlgMismatch, "the token's algorithm does not fit the issuer's keys", nil)
	}
	if !slices.Contains(is.algs, alg) {
		return nil, problem.Unauthorized(ReasonAlgNotAllowed, "the token's algorithm is not allowed for its issuer", nil)
	}
	if is.hmac {
		return is.secret, nil
	}
	key, err := is.keys.Lookup(ctx, kid, alg)
	switch {
	case errors.Is(err, jwks.ErrUnknownKID):
		return nil, problem.Unauthorized(ReasonUnknownKID, "the token's signing key is unknown", err)
	case errors.Is(err, jwks.ErrUnavailable):
		return nil, problem.Wrap(http.StatusServiceUnavailable, ReasonJWKSUnavailable,
			"the token issuer's keys are unavailable; retry later", err).WithHeader("Retry-After", is.retryAfter)
	case err != nil:
		return nil, fmt.Errorf("jwt issuer %q: key lookup: %w", is.name, err)
	}
	if !jwks.Usable(key, alg) {
		return nil, problem.Unauthorized(ReasonKeyAlgMismatch, "the token's algorithm does not fit its signing key", nil)
	}
	return key, nil
}
