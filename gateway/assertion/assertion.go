// Package assertion adds the gateway's signed identity assertion to the
// requests a route forwards: a short-lived JWT that tells the backend the
// request came through the gateway, who made it and what was decided,
// bound to the upstream (aud), method (htm) and path (htu) it was sent
// with, as DPoP binds a proof. Backends check it with gateway/assertion/verify.
package assertion

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/gateway/assertion/verify"
	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
)

// Signer adds the assertion of one route.
type Signer struct {
	keys     *Keys
	header   string
	ttl      time.Duration
	audience string
	now      func() time.Time
}

// New returns the signer of a route's identity_assertion section.
func New(keys *Keys, a *config.RouteAssertion) (*Signer, error) {
	switch {
	case keys == nil:
		return nil, errors.New("identity_assertion: no signing keys (the top-level identity_assertion section)")
	case a == nil || a.Header == "":
		return nil, errors.New("identity_assertion: no header")
	case a.TTL <= 0:
		return nil, errors.New("identity_assertion: ttl must be positive")
	}
	return &Signer{keys: keys, header: http.CanonicalHeaderKey(a.Header), ttl: a.TTL, audience: a.Audience, now: time.Now}, nil
}

// Middleware is the stage that runs once the request is allowed: it
// queues the assertion, which the proxy makes when it knows the upstream
// and the path (see Stamp). The client's header of that name is already
// gone: authentication removes it from every request, in every spelling.
func (s *Signer) Middleware(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		edits := header.EditsPart.From(r.Context())
		if edits == nil {
			return errors.New("assertion: request has no pipeline state")
		}
		edits.Stamp(s.header, s)
		return next.ServeHTTP(w, r)
	})
}

var _ header.Stamper = (*Signer)(nil)

// Stamp signs the assertion of in as sent to upstream at path. Nothing is
// cached: each request gets its own jti, iat, exp and binding. It returns
// "" (no header) only if signing fails, which the backend then refuses.
func (s *Signer) Stamp(in *http.Request, upstream *url.URL, path string) string {
	ctx := in.Context()
	doc, res := input.Part.From(ctx), authz.ResultPart.From(ctx)
	if doc == nil || res == nil {
		return ""
	}
	now := s.now()
	c := verify.Claims{
		Issuer:     s.keys.issuer,
		Audience:   s.audience,
		DecisionID: res.DecisionID,
		ID:         uuid.NewString(),
		IssuedAt:   now.Unix(),
		Expiry:     now.Add(s.ttl).Unix(),
		Method:     in.Method, // as forwarded: an overridden method travels in its header
		Path:       path,
	}
	if c.Audience == "" {
		c.Audience = upstream.String()
	}
	if id := doc.Identity; id != nil {
		c.Subject, c.Consumer, c.Groups, c.Authn = id.Subject, id.Consumer, id.Groups, id.Method
	}
	tok, err := s.sign(&c, now)
	if err != nil {
		return ""
	}
	return tok
}

func (s *Signer) sign(c *verify.Claims, now time.Time) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	k := s.keys.signing(now)
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, verify.Type); err != nil {
		return "", err
	}
	b, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(hdr)))
	return string(b), err
}
