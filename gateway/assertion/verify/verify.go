// Package verify checks the identity assertion Portcullis adds to the
// requests it forwards (see the README, "Protecting backends from
// bypass"). A backend that accepts only requests with a valid assertion
// cannot be reached around the gateway with a forged X-User-Id.
//
// It depends on nothing of the gateway, only on the standard library and
// lestrrat-go/jwx, so a backend can import it alone:
//
//	v, err := verify.New(verify.Options{
//		JWKSURL:  "http://portcullis-admin:8081/.well-known/jwks.json",
//		Issuer:   "portcullis",
//		Audience: "http://users-api:9000",
//	})
//	http.ListenAndServe(":9000", v.Middleware(app))
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Type is the typ header of an assertion (RFC 8725 §3.11): no other JWT
// signed with the same keys passes for one.
const Type = "portcullis-assertion+jwt"

// DefaultHeader is the header the gateway sends the assertion in unless a
// route names another.
const DefaultHeader = "X-Portcullis-Assertion"

// Claims are the claims of an assertion.
type Claims struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	// Subject is the identity's subject (a JWT's sub); empty for an API key.
	Subject string `json:"sub,omitempty"`
	// Consumer is the API-key consumer or the JWT's mapped consumer.
	Consumer string   `json:"consumer,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	// Authn is how the client authenticated: jwt, introspection, api_key or anonymous.
	Authn string `json:"authn"`
	// DecisionID is the decision-log event of the request.
	DecisionID string `json:"decision_id"`
	ID         string `json:"jti"`
	IssuedAt   int64  `json:"iat"`
	Expiry     int64  `json:"exp"`
	// Method and Path bind the assertion to the request it came with (as
	// DPoP's htm and htu): the method and the escaped path the gateway forwarded.
	Method string `json:"htm"`
	Path   string `json:"htu"`
}

// Options configure a Verifier. Exactly one of JWKSURL and KeySet is set.
type Options struct {
	// JWKSURL is the gateway's /.well-known/jwks.json (on its admin listener).
	JWKSURL string
	// KeySet is a fixed key set, instead of JWKSURL.
	KeySet jwk.Set
	// Issuer is the gateway's identity_assertion.issuer. Required.
	Issuer string
	// Audience is what the gateway's route names this backend: its
	// upstream URL as configured (e.g. "http://127.0.0.1:9000") or the
	// route's identity_assertion.audience. Required.
	Audience string
	// Skew is the clock difference tolerated on iat and exp. 0: none.
	Skew time.Duration
	// Header carries the assertion. Default DefaultHeader.
	Header string
	// HTTPClient fetches JWKSURL. Default: a client with a 5s timeout.
	HTTPClient *http.Client
	// Refresh is the age after which the key set is fetched again.
	// Default 5m. An assertion signed by a key not in the set fetches it
	// again too, at most once per MinRefresh (default 10s).
	Refresh, MinRefresh time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Verifier checks assertions. It is safe for concurrent use.
type Verifier struct {
	o Options

	mu      sync.Mutex
	set     jwk.Set
	fetched time.Time
}

// New returns a Verifier for o.
func New(o Options) (*Verifier, error) {
	switch {
	case (o.JWKSURL == "") == (o.KeySet == nil):
		return nil, errors.New("verify: set exactly one of JWKSURL and KeySet")
	case o.Issuer == "":
		return nil, errors.New("verify: Issuer is required")
	case o.Audience == "":
		return nil, errors.New("verify: Audience is required")
	case o.Skew < 0 || o.Refresh < 0 || o.MinRefresh < 0:
		return nil, errors.New("verify: Skew, Refresh and MinRefresh must not be negative")
	}
	if o.Header == "" {
		o.Header = DefaultHeader
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.Refresh == 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.MinRefresh == 0 {
		o.MinRefresh = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Verifier{o: o, set: o.KeySet}, nil
}

// ErrMissing is the error of a request without an assertion.
var ErrMissing = errors.New("no identity assertion")

// Verify checks the assertion of r: exactly one, with typ Type, signed
// (ES256 or EdDSA) by a key of the set whose alg it names, from Issuer
// for Audience, issued and not expired (within Skew), for r's method and
// escaped path. It returns the claims of a valid one.
func (v *Verifier) Verify(r *http.Request) (*Claims, error) {
	vals := r.Header.Values(v.o.Header)
	switch len(vals) {
	case 0:
		return nil, ErrMissing
	case 1:
	default:
		return nil, errors.New("more than one identity assertion")
	}
	c, err := v.verifyToken(r.Context(), vals[0])
	if err != nil {
		return nil, err
	}
	now := v.o.Now()
	switch {
	case c.Issuer != v.o.Issuer:
		return nil, fmt.Errorf("issuer %q is not %q", c.Issuer, v.o.Issuer)
	case c.Audience != v.o.Audience:
		return nil, fmt.Errorf("audience %q is not %q", c.Audience, v.o.Audience)
	case c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(v.o.Skew)):
		return nil, errors.New("assertion expired")
	case time.Unix(c.IssuedAt, 0).After(now.Add(v.o.Skew)):
		return nil, errors.New("assertion issued in the future")
	case c.ID == "":
		return nil, errors.New("assertion has no jti")
	case c.Method != r.Method:
		return nil, fmt.Errorf("assertion is for method %q, not %q", c.Method, r.Method)
	case c.Path != r.URL.EscapedPath():
		return nil, fmt.Errorf("assertion is for path %q, not %q", c.Path, r.URL.EscapedPath())
	}
	return c, nil
}

// verifyToken checks the signature and returns the claims.
func (v *Verifier) verifyToken(ctx context.Context, tok string) (*Claims, error) {
	msg, err := jws.ParseString(tok)
	if err != nil {
		return nil, fmt.Errorf("malformed assertion: %w", err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, errors.New("assertion must have exactly one signature")
	}
	h := sigs[0].ProtectedHeaders()
	if typ, _ := h.Type(); typ != Type {
		return nil, fmt.Errorf("assertion typ %q is not %q", typ, Type)
	}
	kid, _ := h.KeyID()
	alg, _ := h.Algorithm()
	key, err := v.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	keyAlg, _ := key.Algorithm()
	if alg != jwa.ES256() && alg != jwa.EdDSA() || keyAlg.String() != alg.String() {
		return nil, fmt.Errorf("algorithm %q is not the key's (%v), or not ES256 or EdDSA", alg, keyAlg)
	}
	payload, err := jws.Verify([]byte(tok), jws.WithKey(alg, key))
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return &c, nil
}

// key returns the key kid, fetching the set when it is older than Refresh
// or lacks kid (at most once per MinRefresh).
func (v *Verifier) key(ctx context.Context, kid string) (jwk.Key, error) {
	if kid == "" {
		return nil, errors.New("assertion has no kid")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.o.JWKSURL != "" {
		age := v.o.Now().Sub(v.fetched)
		_, known := v.lookup(kid)
		if v.set == nil || age > v.o.Refresh || (!known && age > v.o.MinRefresh) {
			if err := v.fetch(ctx); err != nil && v.set == nil {
				return nil, err
			}
		}
	}
	k, ok := v.lookup(kid)
	if !ok {
		return nil, fmt.Errorf("no key %q in the key set", kid)
	}
	return k, nil
}

func (v *Verifier) lookup(kid string) (jwk.Key, bool) {
	if v.set == nil {
		return nil, false
	}
	return v.set.LookupKeyID(kid)
}

// fetch gets the key set; a failure keeps the set there was, and is tried
// again only after MinRefresh.
func (v *Verifier) fetch(ctx context.Context) error {
	v.fetched = v.o.Now()
	set, err := jwk.Fetch(ctx, v.o.JWKSURL, jwk.WithHTTPClient(v.o.HTTPClient))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", v.o.JWKSURL, err)
	}
	v.set = set
	return nil
}

type claimsKey struct{}

// Middleware answers 401 to a request without a valid assertion and
// passes the others on with their claims (ClaimsFrom).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r)
		if err != nil {
			http.Error(w, "identity assertion refused: "+err.Error(), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// ClaimsFrom returns the claims Middleware verified, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}
