package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
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

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: portcullis demo upstream|token|keys [flags]")
		return 2
	}
	switch args[0] {
	case "upstream":
		return cmdDemoUpstream(args[1:], stdout, stderr)
	case "token":
		return cmdDemoToken(args[1:], stdout, stderr)
	case "keys":
		return cmdDemoKeys(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "portcullis demo: unknown subcommand %q\n", args[0])
	return 2
}

// cmdDemoUpstream serves JSON describing each request it receives.
func cmdDemoUpstream(args []string, _, stderr io.Writer) int {
	fs := newFlags("demo upstream", stderr)
	addr := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	if code := parseFlags(fs, args); code != 0 {
		return max(code, 0)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           http.HandlerFunc(echo),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	fmt.Fprintf(stderr, "demo upstream listening on %s\n", *addr)
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
func cmdDemoKeys(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo keys", stderr)
	dir := fs.String("dir", ".demo", "directory for the demo issuer's keys (git-ignored)")
	if code := parseFlags(fs, args); code != 0 {
		return max(code, 0)
	}
	created, err := ensureDemoKeys(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis demo keys: %v\n", err)
		return 1
	}
	if created {
		fmt.Fprintf(stdout, "created the demo issuer key pair in %s\n", *dir)
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

// cmdDemoToken mints a token of the demo issuer.
func cmdDemoToken(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo token", stderr)
	dir := fs.String("dir", ".demo", "directory of the demo issuer's keys")
	sub := fs.String("sub", "demo-user", "subject")
	groups := fs.String("groups", "user-group", "comma-separated groups")
	role := fs.String("role", "user", "role claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	expired := fs.Bool("expired", false, "mint a token that expired an hour ago")
	if code := parseFlags(fs, args); code != 0 {
		return max(code, 0)
	}
	tok, err := mintDemoToken(*dir, *sub, splitList(*groups), *role, *ttl, *expired, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "portcullis demo token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
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
