package jwt

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"fmt"
	"io"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// maxKeyFileBytes caps one configured key file.
const maxKeyFileBytes = 1 << 20

// loadKeys reads PEM, JWK and JWKS files into one set of public keys. A key
// without a kid gets its RFC 7638 SHA-256 thumbprint (base64url) as kid.
// Symmetric keys are refused: HMAC issuers use their secret.
func loadKeys(paths []string) (jwk.Set, error) {
	set := jwk.NewSet()
	for _, p := range paths {
		if err := addKeyFile(set, p); err != nil {
			return nil, fmt.Errorf("key file %s: %w", p, err)
		}
	}
	return set, nil
}

func addKeyFile(dst jwk.Set, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return err
	}
	if len(b) > maxKeyFileBytes {
		return fmt.Errorf("larger than %d bytes", maxKeyFileBytes)
	}
	isPEM := bytes.Contains(b, []byte("-----BEGIN "))
	src, err := jwk.Parse(b, jwk.WithPEM(isPEM))
	if err != nil {
		return err
	}
	if src.Len() == 0 {
		return fmt.Errorf("no keys")
	}
	for i := range src.Len() {
		k, _ := src.Key(i)
		if k.KeyType() == jwa.OctetSeq() {
			return fmt.Errorf("key %d is symmetric (HMAC issuers use secret)", i)
		}
		pub, err := k.PublicKey()
		if err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		if kid, ok := pub.KeyID(); !ok || kid == "" {
			tp, err := pub.Thumbprint(crypto.SHA256)
			if err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
			if err := pub.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp)); err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
		}
		if err := dst.AddKey(pub); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
	}
	return nil
}
