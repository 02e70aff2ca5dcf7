package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
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
	args:     "[--listen ADDR]",
	synopsis: "serve an upstream that answers every request with JSON describing it (runs until killed)",
	example:  "portcullis demo upstream --listen 127.0.0.1:9000",
	exits:    []exitCode{{1, "the address could not be listened on"}, exitUsage},
	flags: func(fs *flag.FlagSet) runner {
		addr := fs.String("listen", "127.0.0.1:9000", "address to listen on")
		return func(_ []string, _, stderr io.Writer) int { return cmdDemoUpstream(*addr, stderr) }
	},
}

var demoKeysCmd = &command{
	name:     "demo keys",
	args:     "[--dir DIR]",
	synopsis: "create the demo issuer's key pair in DIR unless it exists (make run does)",
	example:  "portcullis demo keys --dir .demo",
	exits:    []exitCode{{0, "the key pair exists (created or already there)"}, {1, "the keys could not be written"}, exitUsage},
	flags: func(fs *flag.FlagSet) runner {
		dir := fs.String("dir", ".demo", "directory for the demo issuer's keys (git-ignored)")
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

// cmdDemoUpstream serves JSON describing each request it receives.
func cmdDemoUpstream(addr string, stderr io.Writer) int {
	srv := &http.Server{
		Addr:              addr,
		Handler:           http.HandlerFunc(echo),
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

// echo answers with the method, path, query, headers and body size it received.
func echo(w http.ResponseWriter, r *http.Request) {
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
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"upstream":   "demo",
		"method":     r.Method,
		"path":       r.URL.Path,
		"query":      r.URL.RawQuery,
		"host":       r.Host,
		"headers":    headers,
		"body_bytes": n,
	})
}

// cmdDemoKeys creates the demo issuer's key pair in dir unless it exists.
func cmdDemoKeys(dir string, stdout, stderr io.Writer) int {
	created, err := ensureDemoKeys(dir)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis demo keys: %v\n", err)
		return 1
	}
	if created {
		fmt.Fprintf(stdout, "created the demo issuer key pair in %s\n", dir)
	}
	return 0
}

func demoKeyPaths(dir string) (private, public string) {
	return filepath.Join(dir, "issuer-private.jwk"), filepath.Join(dir, "issuer-jwks.json")
}

func ensureDemoKeys(dir string) (bool, error) {
	priv, pub := demoKeyPaths(dir)
	if _, err := os.Stat(priv); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
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
