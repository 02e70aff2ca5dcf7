package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/portcullis/portcullis/gateway/assertion/verify"
)

// The demo issuer of the example configuration.
const (
	demoIssuer   = "https://issuer.demo.portcullis.local"
	demoAudience = "portcullis-demo"
	demoKeyID    = "demo-2026"
)

var demoCmd = &command{
	name:     "demo",
	args:     "SUBCOMMAND [flags]",
	synopsis: "demo helpers for the example configuration: an echo upstream, the demo issuer's keys and tokens",
	example:  "portcullis demo token --role admin --groups full-access",
	exits:    []exitCode{{0, "help"}, {2, "no or an unknown subcommand"}},
	subs:     []*command{demoUpstreamCmd, demoKeysCmd, demoTokenCmd},
}

var demoUpstreamCmd = &command{
	name:     "demo upstream",
	args:     "[--listen ADDR] [--assertion-jwks URL [--assertion-issuer ISS] [--assertion-audience AUD]]",
	synopsis: "serve an upstream that answers every request with JSON describing it, and whether its identity assertion verifies (runs until killed)",
	example:  "portcullis demo upstream --listen 127.0.0.1:9000 --assertion-jwks http://127.0.0.1:8081/.well-known/jwks.json",
	exits:    []exitCode{{1, "the address could not be listened on"}, exitUsage},
	flags: func(fs *flag.FlagSet) runner {
		addr := fs.String("listen", "127.0.0.1:9000", "address to listen on")
		jwks := fs.String("assertion-jwks", "", "the gateway's JWKS URL: verify the identity assertion of each request against it")
		iss := fs.String("assertion-issuer", "portcullis", "the assertion issuer expected (identity_assertion.issuer)")
		aud := fs.String("assertion-audience", "", "the audience expected (default http://ADDR, the upstream URL the gateway is configured with)")
		return func(_ []string, _, stderr io.Writer) int {
			var v *verify.Verifier
			if *jwks != "" {
				if *aud == "" {
					*aud = "http://" + *addr
				}
				var err error
				if v, err = verify.New(verify.Options{JWKSURL: *jwks, Issuer: *iss, Audience: *aud, Skew: 5 * time.Second}); err != nil {
					fmt.Fprintf(stderr, "demo upstream: %v\n", err)
					return 2
				}
			}
			return cmdDemoUpstream(*addr, v, stderr)
		}
	},
}

var demoKeysCmd = &command{
	name:     "demo keys",
	args:     "[--dir DIR]",
	synopsis: "create the demo issuer's key pair and the assertion signing key in DIR unless they exist (make run does)",
	example:  "portcullis demo keys --dir .demo",
	exits:    []exitCode{{0, "the keys exist (created or already there)"}, {1, "the keys could not be written"}, exitUsage},
	flags: func(fs *flag.FlagSet) runner {
		dir := fs.String("dir", ".demo", "directory for the demo keys (git-ignored)")
		return func(_ []string, stdout, stderr io.Writer) int { return cmdDemoKeys(*dir, stdout, stderr) }
	},
}

var demoTokenCmd = &command{
	name:     "demo token",
	args:     "[--sub S] [--role R] [--groups a,b] [--ttl D] [--expired] [--dir DIR]",
	synopsis: "print a JWT of the demo issuer, accepted by the example configuration",
	example:  "portcullis demo token --sub alice --role admin --groups full-access --ttl 10m",
	exits:    []exitCode{{0, "the token is printed"}, {1, "the demo keys are missing (run portcullis demo keys) or unreadable"}, exitUsage},
	flags: func(fs *flag.FlagSet) runner {
		dir := fs.String("dir", ".demo", "directory of the demo issuer's keys")
		sub := fs.String("sub", "demo-user", "subject (sub claim)")
		groups := fs.String("groups", "user-group", "comma-separated groups (groups claim)")
		role := fs.String("role", "user", "role claim")
		ttl := fs.Duration("ttl", time.Hour, "lifetime")
		expired := fs.Bool("expired", false, "mint a token that expired an hour ago (ignores --ttl)")
		return func(_ []string, stdout, stderr io.Writer) int {
			tok, err := mintDemoToken(*dir, *sub, splitList(*groups), *role, *ttl, *expired, time.Now())
			if err != nil {
				fmt.Fprintf(stderr, "portcullis demo token: %v\n", err)
				return 1
			}
			fmt.Fprintln(stdout, tok)
			return 0
		}
	},
}

// cmdDemoUpstream serves JSON describing each request it receives; with
// v, whether its identity assertion verifies.
func cmdDemoUpstream(addr string, v *verify.Verifier, stderr io.Writer) int {
	srv := &http.Server{
		Addr:              addr,
		Handler:           echo(v),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	fmt.Fprintf(stderr, "demo upstream listening on %s\n", addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintf(stderr, "demo upstream: %v\n", err)
		return 1
	}
	return 0
}

// echoAssertion is what the demo upstream found of a request's identity
// assertion.
type echoAssertion struct {
	Verified bool   `json:"verified"`
	Subject  string `json:"sub,omitempty"`
	Consumer string `json:"consumer,omitempty"`
	Authn    string `json:"authn,omitempty"`
	Error    string `json:"error,omitempty"`
}

// echo answers with the method, path, query, headers and body size it
// received and, with v, whether the identity assertion verifies: it
// answers either way, to show what a backend that checks it would refuse.
func echo(v *verify.Verifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := describe(r)
		if v != nil {
			a := echoAssertion{Verified: true}
			if c, err := v.Verify(r); err != nil {
				a = echoAssertion{Error: err.Error()}
			} else {
				a.Subject, a.Consumer, a.Authn = c.Subject, c.Consumer, c.Authn
			}
			out["assertion"] = a
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
}

// describe is the method, path, query, headers and body size of r.
func describe(r *http.Request) map[string]any {
	n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	headers := map[string]string{}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		headers[k] = strings.Join(r.Header[k], ", ")
	}
	return map[string]any{
		"upstream":   "demo",
		"method":     r.Method,
		"path":       r.URL.Path,
		"query":      r.URL.RawQuery,
		"host":       r.Host,
		"headers":    headers,
		"body_bytes": n,
	}
}

// cmdDemoKeys creates the demo issuer's key pair in dir unless it exists.
func cmdDemoKeys(dir string, stdout, stderr io.Writer) int {
	created, err := ensureDemoKeys(dir)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis demo keys: %v\n", err)
		return 1
	}
	if created {
		fmt.Fprintf(stdout, "created the demo keys in %s\n", dir)
	}
	return 0
}

func demoKeyPaths(dir string) (private, public string) {
	return filepath.Join(dir, "issuer-private.jwk"), filepath.Join(dir, "issuer-jwks.json")
}

// demoAssertionKey is the gateway's identity-assertion signing key of the
// example configuration.
func demoAssertionKey(dir string) string { return filepath.Join(dir, "assertion-key.pem") }

// ensureDemoKeys creates what is missing of the demo issuer's key pair and
// the assertion signing key.
func ensureDemoKeys(dir string) (bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	issuer, err := ensureDemoIssuer(dir)
	if err != nil {
		return false, err
	}
	signer, err := ensureDemoAssertionKey(dir)
	return issuer || signer, err
}

// ensureDemoAssertionKey writes an Ed25519 key (PKCS #8 PEM) unless one exists.
func ensureDemoAssertionKey(dir string) (bool, error) {
	p := demoAssertionKey(dir)
	if _, err := os.Stat(p); err == nil {
		return false, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return false, err
	}
	return true, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func ensureDemoIssuer(dir string) (bool, error) {
	priv, pub := demoKeyPaths(dir)
	if _, err := os.Stat(priv); err == nil {
		return false, nil
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return false, err
	}
	k, err := jwk.Import(rk)
	if err != nil {
		return false, err
	}
	_ = k.Set(jwk.KeyIDKey, demoKeyID)
	_ = k.Set(jwk.AlgorithmKey, jwa.RS256())
	b, err := json.Marshal(k)
	if err != nil {
		return false, err
	}
	pk, err := k.PublicKey()
	if err != nil {
		return false, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pk); err != nil {
		return false, err
	}
	pb, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(pub, pb, 0o644); err != nil {
		return false, err
	}
	return true, os.WriteFile(priv, b, 0o600)
}

func mintDemoToken(dir, sub string, groups []string, role string, ttl time.Duration, expired bool, now time.Time) (string, error) {
	priv, _ := demoKeyPaths(dir)
	b, err := os.ReadFile(priv)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s does not exist; run `portcullis demo keys` (make run does) first", priv)
	} else if err != nil {
		return "", err
	}
	key, err := jwk.ParseKey(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", priv, err)
	}
	iat := now
	if expired {
		iat = now.Add(-2 * time.Hour)
		ttl = time.Hour
	}
	t, err := jwt.NewBuilder().
		Issuer(demoIssuer).Audience([]string{demoAudience}).Subject(sub).
		IssuedAt(iat).NotBefore(iat).Expiration(iat.Add(ttl)).
		Claim("groups", groups).Claim("role", role).Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.RS256(), key))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}
