package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// The benchmark's issuer, as written into the JWT configurations.
const (
	benchIssuer   = "https://issuer.bench.portcullis.local"
	benchAudience = "portcullis-bench"
)

// issuer signs the benchmark's tokens with a key generated for this run.
type issuer struct {
	key *rsa.PrivateKey
	kid string // RFC 7638 thumbprint: the kid the gateway gives a PEM key without one
}

// newIssuer generates a 2048-bit RSA key.
func newIssuer() (*issuer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.Import(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &issuer{key: k, kid: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// publicPEM returns the public key in PKIX PEM form for the gateway config.
func (is *issuer) publicPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// mint returns n distinct RS256 tokens (subjects bench-user-00000 …) valid
// for ttl, each already prefixed with "Bearer " for the Authorization
// header. Signing is spread over every CPU.
func (is *issuer) mint(n int, ttl time.Duration) ([]string, error) {
	now := time.Now().Truncate(time.Second)
	out := make([]string, n)
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				t, err := jwt.NewBuilder().
					Issuer(benchIssuer).Audience([]string{benchAudience}).
					Subject(fmt.Sprintf("bench-user-%05d", i)).
					IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl)).
					Claim("groups", []string{"user-group"}).Claim("role", "user").
					Build()
				if err != nil {
					return err
				}
				hdr := jws.NewHeaders() // per token: signing may write to it
				if err := hdr.Set(jws.KeyIDKey, is.kid); err != nil {
					return err
				}
				signed, err := jwt.Sign(t, jwt.WithKey(jwa.RS256(), is.key, jws.WithProtectedHeaders(hdr)))
				if err != nil {
					return err
				}
				out[i] = "Bearer " + string(signed)
			}
			return nil
		})
	}
	return out, g.Wait()
}
