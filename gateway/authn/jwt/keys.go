package jwt

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/jwks"
)

// maxKeyFileBytes caps one configured key file.
const maxKeyFileBytes = 1 << 20

// loadKeys reads PEM, JWK and JWKS files into one set of public keys. A key
// without a kid gets its RFC 7638 SHA-256 thumbprint (base64url) as kid.
// Symmetric keys and malformed files are refused with an error: HMAC
// issuers use their secret. Keys that are well-formed but too weak (RSA
// under 2048 bits, an unsupported curve) are left out, as in a fetched
// JWKS, and returned for the key set to report (issue 12, class 11).
func loadKeys(paths []string) (jwk.Set, []jwks.Rejection, error) {
	set := jwk.NewSet()
	var rejected []jwks.Rejection
	for _, p := range paths {
		r, err := addKeyFile(set, p)
		var le *lineError
		switch {
		case errors.As(err, &le):
			return nil, nil, fmt.Errorf("key file %s:%d: %w", p, le.line, le.err)
		case err != nil:
			return nil, nil, fmt.Errorf("key file %s: %w", p, err)
		}
		rejected = append(rejected, r...)
	}
	return set, rejected, nil
}

func addKeyFile(dst jwk.Set, path string) ([]jwks.Rejection, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFileBytes)
	}
	var keys []jwk.Key
	var rejected []jwks.Rejection
	if bytes.Contains(b, []byte("-----BEGIN ")) {
		keys, rejected, err = parsePEM(b)
	} else {
		keys, err = parseJWK(b)
	}
	if err != nil {
		return nil, err
	}
	if len(keys)+len(rejected) == 0 {
		return nil, fmt.Errorf("no keys")
	}
	for i := range rejected {
		rejected[i].Source = path
	}
	for i, k := range keys {
		if k.KeyType() == jwa.OctetSeq() {
			return nil, fmt.Errorf("key %d is symmetric (HMAC issuers use secret)", i)
		}
		if r, refused := jwks.Refuse(k); refused {
			if r.Reason == jwks.RejectUnsupported {
				return nil, fmt.Errorf("key %d is not a supported key", i)
			}
			r.Source, r.Index = path, i
			rejected = append(rejected, r)
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if kid, ok := pub.KeyID(); !ok || kid == "" {
			tp, err := pub.Thumbprint(crypto.SHA256)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
			if err := pub.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp)); err != nil {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
		}
		if err := dst.AddKey(pub); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
	}
	return rejected, nil
}

// lineError is a problem at a line of a key file.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// lineAt is the 1-based line of byte offset off in b.
func lineAt(b []byte, off int) int {
	return bytes.Count(b[:max(0, min(off, len(b)))], []byte("\n")) + 1
}

// parseJWK reads a JWK or a JWKS. Entries that do not parse are kept as
// placeholders for Refuse to classify, instead of failing the file.
func parseJWK(b []byte) ([]jwk.Key, error) {
	set, err := jwk.Parse(b, jwk.WithStrictKeySetParsing(false))
	if err != nil {
		// The JOSE library does not say where; for a JSON syntax error
		// encoding/json does.
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(b, new(any)), &se) {
			return nil, &lineError{line: lineAt(b, int(se.Offset)-1), err: se}
		}
		return nil, err
	}
	keys := make([]jwk.Key, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		keys = append(keys, k)
	}
	return keys, nil
}

// parsePEM reads every PEM block of b. The JOSE library refuses to import
// an RSA key under 2048 bits; such a block is returned as a rejection
// (measured with crypto/x509) instead of an error, so the file's other keys
// still load. Any other block the library cannot read is an error.
func parsePEM(b []byte) ([]jwk.Key, []jwks.Rejection, error) {
	var keys []jwk.Key
	var rejected []jwks.Rejection
	all := b
	for i := 0; ; i++ {
		start := len(all) - len(b)
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return keys, rejected, nil
		}
		start += bytes.Index(all[start:], []byte("-----BEGIN"))
		k, err := jwk.ParseKey(pem.EncodeToMemory(block), jwk.WithPEM(true))
		if err == nil {
			keys = append(keys, k)
			continue
		}
		if bits := pemRSABits(block); bits > 0 && bits < jwks.MinRSABits {
			rejected = append(rejected, jwks.Rejection{Index: i, Reason: jwks.RejectRSATooSmall, Bits: bits})
			continue
		}
		return nil, nil, &lineError{line: lineAt(all, start), err: fmt.Errorf("pem block %d: %w", i, err)}
	}
}

// pemRSABits is the modulus size of an RSA key or certificate in block, 0
// when it is not one.
func pemRSABits(block *pem.Block) int {
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, _ = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, _ = x509.ParsePKCS1PublicKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, _ = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, _ = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "CERTIFICATE":
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			key = c.PublicKey
		}
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen()
	case *rsa.PrivateKey:
		return k.N.BitLen()
	}
	return 0
}
