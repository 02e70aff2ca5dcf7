package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/template"
)

//go:embed configs/*.yaml.tmpl
var configFS embed.FS

//go:embed allowall.rego
var allowAllRego []byte

// The policy and OpenAPI document of configuration (i).
var (
	//go:embed peer.rego
	peerRego []byte
	//go:embed peer-openapi.yaml
	peerSchema []byte
)

// peerTokens is the token pool of configuration (i), as in the peer
// measurement of issue 20.
const peerTokens = 1000

// The requests of the benchmark. Every target answers with the upstream's
// small JSON document; only the gateway's work differs.
const (
	usersPath = "/api/v1/users"
	// partnerKey is the read-only partner's API key of the example bundle
	// (bundles/portcullis/data.json stores only its hash).
	partnerKey = "partner-read-key-rotated-2026-04"
)

// fullRoute is the route of configuration (c) (configs/c-full.yaml.tmpl).
const fullRoute = "users-api"

// newUserBody is a valid NewUser of schemas/users.yaml.
var newUserBody = []byte(`{"name":"Bench User","email":"bench.user@example.com","role":"user"}`)

// gatewayConfig is one Portcullis configuration under test.
type gatewayConfig struct {
	key, title string
	template   string // file under configs/
	// spec is the request the configuration is driven with.
	spec func(base string, b *bench) requestSpec
	// guard, when set, is a request the configuration must refuse with
	// status: proof that its pipeline really runs before it is measured.
	guard  func(base string, b *bench) requestSpec
	status int
}

// gatewayConfigs are the configurations of issue 7, (e) of issue 19, (f) of issue 16, (g) of issue 18, (h) of issue 15 and (i) of issue 20, in table order.
var gatewayConfigs = []gatewayConfig{
	{
		key: "a", title: "(a) proxy only", template: "a-proxy.yaml.tmpl",
		spec: func(base string, _ *bench) requestSpec { return requestSpec{method: "GET", url: base + usersPath} },
	},
	{
		key: "b", title: "(b) JWT RS256", template: "b-jwt.yaml.tmpl",
		spec: func(base string, b *bench) requestSpec {
			return requestSpec{method: "GET", url: base + usersPath, header: "Authorization", values: b.tokens}
		},
		guard:  func(base string, _ *bench) requestSpec { return requestSpec{method: "GET", url: base + usersPath} },
		status: 401,
	},
	{
		key: "c", title: "(c) full pipeline", template: "c-full.yaml.tmpl",
		spec: fullSpec, guard: fullGuard, status: 400,
	},
	{
		key: "d", title: "(d) API key + policy", template: "d-apikey.yaml.tmpl",
		spec: apiKeySpec, guard: apiKeyGuard, status: 403,
	},
	{
		key: "e", title: "(e) full pipeline with the identity assertion", template: "e-assert.yaml.tmpl",
		spec: fullSpec, guard: fullGuard, status: 400,
	},
	// (c) with a shadow bundle; not in -only's default set: run it with -only c,f.
	{
		key: "f", title: "(f) full pipeline + shadow", template: "f-shadow.yaml.tmpl",
		spec: fullSpec, guard: fullGuard, status: 400,
	},
	// (c) with tracing sampled at 1 %; not in -only's default set: run it with -only c,g.
	{
		key: "g", title: "(g) full pipeline + tracing 1 %", template: "g-trace.yaml.tmpl",
		spec: fullSpec, guard: fullGuard, status: 400,
	},
	// (d) with a rate limit that never refuses; not in -only's default set: run it with -only d,h.
	{
		key: "h", title: "(h) API key + policy + rate limit", template: "h-ratelimit.yaml.tmpl",
		spec: apiKeySpec, guard: apiKeyGuard, status: 403,
	},
	// The peer-style GET of issue 20; its ratio_to_bare_get is the one
	// compared with other gateways.
	{
		key: "i", title: "(i) peer-style GET", template: "i-peer.yaml.tmpl",
		spec: peerSpec, guard: peerGuard, status: 403,
	},
}

// peerSpec is the request of configuration (i): each of peerTokens tokens
// GETs its own subject's record (mint names token k bench-user-k).
func peerSpec(base string, b *bench) requestSpec {
	tokens := b.tokens[:min(peerTokens, len(b.tokens))]
	paths := make([]string, len(tokens))
	for k := range paths {
		paths[k] = fmt.Sprintf("/bench-user-%05d?limit=10", k)
	}
	return requestSpec{method: "GET", url: base + usersPath, paths: paths, header: "Authorization", values: tokens}
}

// peerGuard is a user reading another user's record, which the ownership
// rule refuses (403).
func peerGuard(base string, b *bench) requestSpec {
	return requestSpec{method: "GET", url: base + usersPath + "/bench-user-99999?limit=10",
		header: "Authorization", values: b.tokens[:1]}
}

// apiKeySpec is the request of configurations (d) and (h): a GET with
// the partner's key.
func apiKeySpec(base string, _ *bench) requestSpec {
	return requestSpec{method: "GET", url: base + usersPath, header: "X-API-Key", values: []string{partnerKey}}
}

// apiKeyGuard is a write the example policy denies the read-only partner (403).
func apiKeyGuard(base string, _ *bench) requestSpec {
	return requestSpec{method: "POST", url: base + usersPath, body: newUserBody, contentType: "application/json",
		header: "X-API-Key", values: []string{partnerKey}}
}

// fullSpec is the request of configurations (c) and (e): a valid JSON
// body with a JWT.
func fullSpec(base string, b *bench) requestSpec {
	return requestSpec{method: "POST", url: base + usersPath, body: newUserBody, contentType: "application/json",
		header: "Authorization", values: b.tokens}
}

// fullGuard is a body their OpenAPI validation refuses (400).
func fullGuard(base string, b *bench) requestSpec {
	return requestSpec{method: "POST", url: base + usersPath, body: []byte(`{"name":"Bench User","email":"not an email"}`),
		contentType: "application/json", header: "Authorization", values: b.tokens}
}

// bundleRef is a policy bundle in a rendered configuration.
type bundleRef struct{ Name, Path string }

// configVars fill the templates under configs/.
type configVars struct {
	Proxy, Admin      string // 127.0.0.1:port
	Upstream          string // http://127.0.0.1:port
	Issuer, Audience  string
	IssuerKey         string // PEM file of the benchmark issuer
	Schema            string // schemas/users.yaml
	DecisionLog       string // file of configurations (c) and (e)
	AssertionKey      string // Ed25519 PEM signing key of configuration (e)
	AllowAll, Example bundleRef
	Peer              bundleRef // the policy of configuration (i)
	PeerSchema        string    // its OpenAPI document
	Pprof             bool      // /debug/pprof/ on the admin listener (-profile)
}

// writeAllowAll writes the allow-all bundle into dir/allowall.
func writeAllowAll(dir string) error {
	d := filepath.Join(dir, "allowall")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "authz.rego"), allowAllRego, 0o644)
}

// writePeer writes configuration (i)'s bundle into dir/peer and its
// OpenAPI document beside it.
func writePeer(dir string) error {
	d := filepath.Join(dir, "peer")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "authz.rego"), peerRego, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "peer-openapi.yaml"), peerSchema, 0o644)
}

// writeAssertionKey writes the Ed25519 signing key of configuration (e).
func writeAssertionKey(path string) error {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// renderConfig writes gc's configuration into dir and returns its path and
// the proxy and admin addresses it listens on.
func renderConfig(gc gatewayConfig, dir, root, upstream, issuerKey string, pprof bool) (path, proxy, admin string, err error) {
	tmpl, err := template.New("").Option("missingkey=error").ParseFS(configFS, "configs/*.yaml.tmpl")
	if err != nil {
		return "", "", "", err
	}
	if proxy, err = freeAddr(); err != nil {
		return "", "", "", err
	}
	if admin, err = freeAddr(); err != nil {
		return "", "", "", err
	}
	v := configVars{
		Proxy: proxy, Admin: admin, Upstream: upstream,
		Issuer: benchIssuer, Audience: benchAudience, IssuerKey: issuerKey,
		Schema:       filepath.Join(root, "schemas", "users.yaml"),
		DecisionLog:  filepath.Join(dir, "decisions-"+gc.key+".log"),
		AssertionKey: filepath.Join(dir, "assertion-key.pem"),
		AllowAll:     bundleRef{"allowall", filepath.Join(dir, "allowall")},
		Example:      bundleRef{"portcullis", filepath.Join(root, "bundles", "portcullis")},
		Peer:         bundleRef{"peer", filepath.Join(dir, "peer")},
		PeerSchema:   filepath.Join(dir, "peer-openapi.yaml"),
		Pprof:        pprof,
	}
	path = filepath.Join(dir, "portcullis-"+gc.key+".yaml")
	f, err := os.Create(path)
	if err != nil {
		return "", "", "", err
	}
	defer f.Close()
	if err := tmpl.ExecuteTemplate(f, gc.template, v); err != nil {
		return "", "", "", fmt.Errorf("render %s: %w", gc.template, err)
	}
	return path, proxy, admin, f.Close()
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
