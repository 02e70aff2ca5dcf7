package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/config"
)

// Keys are the gateway's signing keys: all of them published, the newest
// active one signing. They are immutable once loaded.
type Keys struct {
	issuer string
	keys   []*key // in configuration order
	jwks   []byte
}

type key struct {
	kid   string
	alg   jwa.SignatureAlgorithm
	priv  crypto.Signer
	start time.Time // when it begins to sign
}

// Load reads the keys of ia. A key starts signing at its not_before, or
// rotation_overlap after its file was last modified: the file's time is on
// disk, so a restart keeps the schedule, and a copy that resets it only
// delays the key, never hastens it.
func Load(ia *config.IdentityAssertion) (*Keys, error) {
	if ia == nil || ia.Issuer == "" || len(ia.Keys) == 0 {
		return nil, errors.New("identity assertion: an issuer and at least one key are required")
	}
	ks := &Keys{issuer: ia.Issuer}
	set := jwk.NewSet()
	var errs []error
	for i, kc := range ia.Keys {
		k, pub, err := loadKey(kc, ia.RotationOverlap)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys[%d] %s: %w", i, kc.File, err))
			continue
		}
		ks.keys = append(ks.keys, k)
		if err := set.AddKey(pub); err != nil {
			errs = append(errs, fmt.Errorf("keys[%d] %s: %w", i, kc.File, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var err error
	if ks.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("identity assertion: jwks: %w", err)
	}
	return ks, nil
}

func loadKey(kc config.AssertionKey, overlap time.Duration) (*key, jwk.Key, error) {
	b, err := os.ReadFile(kc.File)
	if err != nil {
		return nil, nil, err
	}
	st, err := os.Stat(kc.File)
	if err != nil {
		return nil, nil, err
	}
	priv, alg, err := parsePrivate(b)
	if err != nil {
		return nil, nil, err
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	kid := kc.KeyID
	if kid == "" {
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, nil, err
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pub.Set(name, v); err != nil {
			return nil, nil, err
		}
	}
	start := kc.Start
	if start.IsZero() {
		start = st.ModTime().Add(overlap)
	}
	return &key{kid: kid, alg: alg, priv: priv, start: start}, pub, nil
}

// parsePrivate reads a PEM private key (PKCS #8, or SEC 1 for EC) that
// can sign ES256 or EdDSA; RSA and HMAC keys are refused.
func parsePrivate(b []byte) (crypto.Signer, jwa.SignatureAlgorithm, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, jwa.SignatureAlgorithm{}, errors.New("no PEM block")
	}
	var k any
	var err error
	if blk.Type == "EC PRIVATE KEY" {
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	} else {
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return nil, jwa.SignatureAlgorithm{}, err
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, jwa.SignatureAlgorithm{}, fmt.Errorf("EC key on %s, want P-256 (ES256)", k.Curve.Params().Name)
		}
		return k, jwa.ES256(), nil
	case ed25519.PrivateKey:
		return k, jwa.EdDSA(), nil
	}
	return nil, jwa.SignatureAlgorithm{}, fmt.Errorf("%T keys cannot sign assertions (want EC P-256 or Ed25519)", k)
}

// JWKS returns the public keys as a JSON Web Key Set.
func (ks *Keys) JWKS() []byte { return ks.jwks }

// signing returns the key that signs at now: of the keys whose start has
// come, the one that started last (the later listed on a tie); before any
// has, the first listed, since something must sign.
func (ks *Keys) signing(now time.Time) *key {
	var best *key
	for _, k := range ks.keys {
		if !k.start.After(now) && (best == nil || !k.start.Before(best.start)) {
			best = k
		}
	}
	if best == nil {
		return ks.keys[0]
	}
	return best
}
