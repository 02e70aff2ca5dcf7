package config

import (
	"fmt"
	"time"
)

// IdentityAssertion is the gateway's signing identity for the assertions
// routes add (Route.IdentityAssertion): who signs and with which keys.
type IdentityAssertion struct {
	// Issuer is the assertions' iss. Default "portcullis".
	Issuer string `yaml:"issuer"`
	// Keys are the signing keys, oldest first. Every one is published at
	// /.well-known/jwks.json; the newest active one signs (see AssertionKey).
	Keys []AssertionKey `yaml:"keys"`
	// RotationOverlap is how long a key without not_before is published
	// before it signs, counted from its file's modification time. Default 10m.
	RotationOverlap time.Duration `yaml:"rotation_overlap"`
}

// AssertionKey is one signing key.
type AssertionKey struct {
	// File is a PEM private key: EC P-256 (ES256) or Ed25519 (EdDSA).
	File string `yaml:"file"`
	// KeyID is the kid. Default: the key's RFC 7638 thumbprint.
	KeyID string `yaml:"kid"`
	// NotBefore is when the key starts signing, RFC 3339 (e.g.
	// "2025-06-01T12:00:00Z"). Default: the file's modification time plus
	// rotation_overlap.
	NotBefore string `yaml:"not_before"`
	// Start is NotBefore parsed; zero when it is not set.
	Start time.Time `yaml:"-"`
}

// RouteAssertion makes a route add a signed identity assertion to the
// requests it forwards.
type RouteAssertion struct {
	// Header carries the assertion. Default X-Portcullis-Assertion.
	Header string `yaml:"header"`
	// TTL is how long an assertion is valid. Default 60s.
	TTL time.Duration `yaml:"ttl"`
	// Audience is the aud. Default: the base URL of the upstream the
	// request is sent to.
	Audience string `yaml:"audience"`
}

func (c *Config) validateAssertion(ch *checker) {
	ia := c.IdentityAssertion
	if ia != nil {
		if ia.Issuer == "" {
			ch.add("identity_assertion.issuer", "is required")
		}
		if len(ia.Keys) == 0 {
			ch.add("identity_assertion.keys", "at least one key is required")
		}
		ch.positive("identity_assertion.rotation_overlap", ia.RotationOverlap)
		kids := map[string]bool{}
		for i, k := range ia.Keys {
			p := fmt.Sprintf("identity_assertion.keys[%d]", i)
			if k.File == "" {
				ch.add(p+".file", "is required")
			} else {
				ch.fileExists(p+".file", k.File)
			}
			if k.NotBefore != "" {
				t, err := time.Parse(time.RFC3339, k.NotBefore)
				if err != nil {
					ch.add(p+".not_before", "%q is not an RFC 3339 time (e.g. 2025-06-01T12:00:00Z)", k.NotBefore)
				}
				ia.Keys[i].Start = t
			}
			if k.KeyID != "" && kids[k.KeyID] {
				ch.add(p+".kid", "%q is used by another key", k.KeyID)
			}
			kids[k.KeyID] = true
		}
	}
	for i, r := range c.Routes {
		a := r.IdentityAssertion
		if a == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].identity_assertion", i)
		if ia == nil {
			ch.add(p, "needs the top-level identity_assertion section (its signing keys)")
		}
		if !validHeaderName(a.Header) {
			ch.add(p+".header", "%q is not a header name", a.Header)
		}
		if a.TTL < time.Second || a.TTL > time.Hour {
			ch.add(p+".ttl", "%s is out of range (want 1s..1h)", a.TTL)
		}
	}
}
