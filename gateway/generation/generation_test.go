package generation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
)

// consumers is valid consumer data with one key.
const consumers = `{"portcullis": {"consumers": {"partner": {"groups": ["read"],
  "keys": [{"id": "k1", "hash": "sha256:85cc8eca2ddeb19e9e63936618f5f3a126bcdc0de7f530086f3c319d4648323b", "expires_at": "2099-01-01T00:00:00Z"}]}}}}`

// fixture writes a bundle, an OpenAPI spec, a JWKS key file and a
// configuration into a fresh directory; edit changes files before Build.
type fixture struct {
	t   *testing.T
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir()}
	f.write("bundle/authz.rego", "package portcullis.authz\n\ndecision := true\n")
	f.write("bundle/data.json", consumers)
	f.write("bundle/.manifest", `{"revision": "r1", "roots": ["portcullis"]}`)
	b, err := os.ReadFile("../../schemas/users.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.write("users.yaml", string(b))
	f.write("jwks.json", `{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
	f.writeAssertionKey()
	return f
}

// writeAssertionKey writes a new Ed25519 signing key to assert.pem.
func (f *fixture) writeAssertionKey() {
	f.t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		f.t.Fatal(err)
	}
	f.write("assert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
}

func (f *fixture) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// config is the fixture's configuration; change edits its YAML text.
func (f *fixture) config(change func(string) string) *config.Config {
	f.t.Helper()
	text := `
listen: {proxy: "127.0.0.1:0", admin: "127.0.0.1:0"}
authn:
  jwt:
    issuers:
      - {issuer: "https://issuer.test", keys: [jwks.json], algorithms: [ES256], audiences: [a1]}
  introspection: {endpoint: "http://127.0.0.1:1/introspect", client_id: gw, client_secret: s, allow_insecure_http: true}
policy:
  bundles: [{name: main, path: bundle}]
  watch: false
decision_log: {stdout: false, labels: {env: one}}
identity_assertion:
  keys: [{file: assert.pem}]
routes:
  - name: users
    match: {path_prefix: /api/v1}
    upstream: http://127.0.0.1:9001
    authn: {methods: [jwt, api_key]}
    openapi: {spec: users.yaml}
    identity_assertion: {}
  - name: other
    match: {path_prefix: /other}
    upstream: http://127.0.0.1:9002
    authn: {methods: [api_key]}
`
	if change != nil {
		text = change(text)
	}
	p := filepath.Join(f.dir, "portcullis.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		f.t.Fatal(err)
	}
	return cfg
}

func build(t *testing.T, cfg *config.Config, prev *Generation) (*Generation, error) {
	t.Helper()
	g, err := Build(context.Background(), cfg, prev, Options{Logger: zerolog.Nop(), Registerer: prometheus.NewPedanticRegistry()})
	if g != nil {
		t.Cleanup(func() { _ = g.Close(context.Background()) })
	}
	return g, err
}

func TestBuildRefusesEveryBrokenInputNamingItsFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(f *fixture)
		wants []string // substrings of the error, the file among them
	}{
		{"consumer data with a misspelt expires_at", func(f *fixture) {
			f.write("bundle/data.json", strings.Replace(consumers, `"expires_at"`, `"expires"`, 1))
		}, []string{"bundle/data.json:2: data.portcullis.consumers[\"partner\"].keys[0].expires: unknown field"}},
		{"a revocation list entry with a misspelt field", func(f *fixture) {
			f.write("bundle/portcullis/revoked_api_keys/data.json", "[\n{\"consumer\": \"partner\", \"id\": \"k1\"},\n{\"hsh\": \"sha256:00\"}\n]\n")
		}, []string{"bundle/portcullis/revoked_api_keys/data.json:3: data.portcullis.revoked_api_keys[1].hsh: unknown field"}},
		{"a revocation list that is not a list", func(f *fixture) {
			f.write("bundle/portcullis/revoked_api_keys/data.json", `{"partner": "k1"}`)
		}, []string{"revoked_api_keys: want an array"}},
		{"a Rego syntax error", func(f *fixture) {
			f.write("bundle/authz.rego", "package portcullis.authz\n\ndecision if {{\n")
		}, []string{"authz.rego:", "rego_parse_error"}},
		{"a broken data.json", func(f *fixture) {
			f.write("bundle/data.json", `{"portcullis": `)
		}, []string{"data.json"}},
		{"a broken OpenAPI spec", func(f *fixture) {
			f.write("users.yaml", "openapi: 3.0.3\npaths: [\n")
		}, []string{`routes[0] "users"`, "users.yaml"}},
		{"a missing OpenAPI spec", func(f *fixture) {
			_ = os.Remove(filepath.Join(f.dir, "users.yaml"))
		}, []string{"users.yaml"}},
		{"a broken JWT key file", func(f *fixture) {
			f.write("jwks.json", `{"keys": [`)
		}, []string{"authn.jwt", "jwks.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cfg := f.config(nil)
			if _, err := build(t, cfg, nil); err != nil {
				t.Fatalf("the unbroken fixture does not build: %v", err)
			}
			tc.edit(f)
			g, err := build(t, cfg, nil)
			if err == nil {
				t.Fatalf("Build accepted it (generation %d)", g.Number)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if errs := Check(context.Background(), cfg); len(errs) == 0 {
				t.Error("Check found nothing")
			}
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.config(nil)
	f.write("bundle/data.json", strings.Replace(consumers, `"expires_at"`, `"expires"`, 1))
	f.write("users.yaml", "openapi: 3.0.3\npaths: [\n")
	f.write("jwks.json", `{"keys": [`)
	errs := Check(context.Background(), cfg)
	got := fmt.Sprint(errs)
	for _, w := range []string{"expires", "users.yaml", "jwks.json"} {
		if !strings.Contains(got, w) {
			t.Errorf("Check = %v, missing the %s problem", got, w)
		}
	}
}

func TestLongLivedPartsAreCarriedOverOnlyWhenUnchanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(string) string
		edit   func(f *fixture)
		fresh  []string // parts that must be new; every other one is carried over
	}{
		{"nothing changed", nil, nil, nil},
		{"a bundle changed", nil, func(f *fixture) {
			f.write("bundle/.manifest", `{"revision": "r2", "roots": ["portcullis"]}`)
		}, nil},
		// A new authenticator (its token cache holds verdicts for the old
		// audience) on the same key set: no refetch, no cold start.
		{"an issuer's audience changed", func(s string) string { return strings.Replace(s, "audiences: [a1]", "audiences: [a2]", 1) }, nil, []string{"jwt"}},
		{"an issuer's refresh interval changed", func(s string) string {
			return strings.Replace(s, "audiences: [a1]", "audiences: [a1], refresh_interval: 7m", 1)
		}, nil, []string{"jwt", "jwks:https://issuer.test"}},
		{"a key file was rotated", nil, func(f *fixture) {
			f.write("jwks.json", `{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k2", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
		}, []string{"jwt", "jwks:https://issuer.test"}},
		{"the introspection client changed", func(s string) string { return strings.Replace(s, "client_id: gw", "client_id: gw2", 1) }, nil, []string{"introspection"}},
		{"a decision-log label changed", func(s string) string { return strings.Replace(s, "env: one", "env: two", 1) }, nil, []string{"decision_log"}},
		{"a route's upstream changed", func(s string) string { return strings.Replace(s, "9002", "9003", 1) }, nil, []string{"upstream:other"}},
		// The new timeout needs a pool of its own; the other route's is kept.
		{"a route's connect timeout changed", func(s string) string {
			return strings.Replace(s, "upstream: http://127.0.0.1:9002", "upstream: http://127.0.0.1:9002\n    connect_timeout: 2s", 1)
		}, nil, []string{"upstream:other", "transport:2s"}},
		{"the assertion signing key was rotated", nil, func(f *fixture) { f.writeAssertionKey() }, []string{"assertion_keys"}},
		{"an assertion key's not_before changed", func(s string) string {
			return strings.Replace(s, "{file: assert.pem}", "{file: assert.pem, not_before: '2026-01-01T00:00:00Z'}", 1)
		}, nil, []string{"assertion_keys"}},
		{"a route's assertion ttl changed", func(s string) string {
			return strings.Replace(s, "identity_assertion: {}", "identity_assertion: {ttl: 30s}", 1)
		}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			g1, err := build(t, f.config(nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(f)
			}
			g2, err := build(t, f.config(tc.change), g1)
			if err != nil {
				t.Fatal(err)
			}
			if g2.Number != g1.Number+1 || g2.Engine == g1.Engine {
				t.Errorf("generation %d after %d, engine shared: %v", g2.Number, g1.Number, g2.Engine == g1.Engine)
			}
			for part, carried := range carries(g1, g2) {
				if want := !slices.Contains(tc.fresh, part); carried != want {
					t.Errorf("%s carried over = %v, want %v", part, carried, want)
				}
			}
		})
	}
}

func TestRoutesWithTheSameSettingsShareOnePool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g, err := build(t, f.config(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.proxies) != 2 || len(g.transports) != 1 {
		t.Fatalf("%d proxies over %d pools, want 2 over 1", len(g.proxies), len(g.transports))
	}
	g, err = build(t, f.config(func(s string) string {
		return strings.Replace(s, "upstream: http://127.0.0.1:9002", "upstream: http://127.0.0.1:9002\n    connect_timeout: 2s", 1)
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.transports) != 2 {
		t.Fatalf("%d pools for two connect timeouts, want 2", len(g.transports))
	}
}

func TestAFailedBuildLeavesThePreviousGenerationAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g1, err := build(t, f.config(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.write("bundle/data.json", strings.Replace(consumers, `"expires_at"`, `"expires"`, 1))
	if _, err := build(t, f.config(func(s string) string { return strings.Replace(s, "audiences: [a1]", "audiences: [a2]", 1) }), g1); err == nil {
		t.Fatal("the broken bundle built")
	}
	// g1's parts were not closed by the failed build: its key set still
	// answers and its API-key index is the valid one.
	if err := g1.Ready(); err != nil {
		t.Fatal(err)
	}
	if !g1.apikeys.Ready() || g1.Engine.Status().Bundles[0].Revision != "r1" {
		t.Fatal("the running generation changed")
	}
}

func TestRetireWaitsForTheLastHolder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g1, err := build(t, f.config(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := build(t, f.config(func(s string) string { return strings.Replace(s, "env: one", "env: two", 1) }), g1)
	if err != nil {
		t.Fatal(err)
	}
	g1.Hold()
	done := make(chan struct{})
	go func() { g1.Retire(context.Background(), g2, zerolog.Nop()); close(done) }()
	select {
	case <-done:
		t.Fatal("Retire returned while a request held the generation")
	default:
	}
	g1.Release()
	<-done
}

// carries reports whether next reuses the long-lived parts of g: the JWT
// authenticator (token cache), each issuer's key set, the introspection
// client (its cache), the decision log (queued events), the body budget,
// each route's proxy and each pool of upstream connections.
func carries(g, next *Generation) map[string]bool {
	m := map[string]bool{
		"jwt":           g.jwt != nil && g.jwt == next.jwt,
		"introspection": g.introspect != nil && g.introspect == next.introspect,
		"decision_log":  g.DecisionLog != nil && g.DecisionLog == next.DecisionLog,
		"body_budget":   g.budget == next.budget,
		// The keys, not the route's signer: its header, ttl and audience are the route's.
		"assertion_keys": g.assertKeys != nil && g.assertKeys == next.assertKeys,
	}
	for k, p := range next.proxies {
		m["upstream:"+k.route] = g.proxies[k] == p
	}
	for k, tr := range next.transports {
		m["transport:"+k.connectTimeout.String()] = g.transports[k] == tr
	}
	for _, is := range next.Config.Authn.JWT.Issuers {
		ks := next.jwt.KeySet(is.Issuer)
		m["jwks:"+is.Issuer] = ks != nil && g.jwt.KeySet(is.Issuer) == ks
	}
	return m
}
