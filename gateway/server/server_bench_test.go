package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
)

// fullPipeline builds a Server with JWT authentication, the example
// policy, OpenAPI validation of the users API and a file decision log, in
// front of a local upstream, and returns it with n tokens of its issuer.
func fullPipeline(tb testing.TB, n int) (*Server, []string) {
	return jwtPipeline(tb, n, true)
}

// jwtPipeline is fullPipeline, or with full false the JWT-only
// configuration (b) of make bench: an allow-all policy, no validation, no
// decision log.
func jwtPipeline(tb testing.TB, n int, full bool) (*Server, []string) {
	return shadowPipeline(tb, n, full, false)
}

// shadowPipeline is jwtPipeline; with shadow, the policy's bundle is also
// policy.shadow's candidate (every shadow decision is "same"), evaluated
// by the running shadow goroutine.
func shadowPipeline(tb testing.TB, n int, full, shadow bool) (*Server, []string) {
	tb.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	tb.Cleanup(up.Close)
	dir := tb.TempDir()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := jwk.Import(rk)
	if err != nil {
		tb.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "k1")
	pub, _ := key.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	b, _ := json.Marshal(set)
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
	policyDir, extra := abs(tb, "../../bundles/portcullis"), fmt.Sprintf("    openapi: {spec: %s}\ndecision_log:\n  file: {path: decisions.log}\n", abs(tb, "../../schemas/users.yaml"))
	if !full {
		policyDir, extra = filepath.Join(dir, "allow"), "decision_log: {stdout: false}\n"
		if err := os.MkdirAll(policyDir, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(policyDir, "allow.rego"), []byte("package portcullis.authz\n\ndecision := true\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	shadowYAML := ""
	if shadow {
		shadowYAML = fmt.Sprintf("  shadow: {bundles: [{name: portcullis, path: %s}]}\n", policyDir)
	}
	cfgText := fmt.Sprintf(`
listen: {proxy: "127.0.0.1:0", admin: "127.0.0.1:0"}
authn:
  jwt:
    issuers:
      - issuer: https://issuer.bench
        keys: [jwks.json]
        algorithms: [RS256]
        audiences: [bench]
        claims_to_headers: {sub: X-User-Id}
policy:
  bundles: [{name: portcullis, path: %s}]
  watch: false
%sroutes:
  - name: users-api
    match: {path_prefix: /api/v1}
    upstream: %s
    authn: {methods: [jwt]}
%s`, policyDir, shadowYAML, up.URL, extra)
	cfg, err := config.Parse(filepath.Join(dir, "c.yaml"), []byte(cfgText))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := New(context.Background(), cfg, Options{Logger: zerolog.Nop(), Version: "bench", Tracer: benchTracer})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.gen.Load().Close(context.Background()) })
	if shadow {
		srv.gen.Load().Start(context.Background()) // the shadow's goroutine; Run is not called
	}
	toks := make([]string, n)
	now := time.Now()
	for i := range toks {
		t, _ := jwt.NewBuilder().Issuer("https://issuer.bench").Audience([]string{"bench"}).
			Subject(fmt.Sprintf("user-%d", i)).IssuedAt(now).Expiration(now.Add(time.Hour)).
			Claim("groups", []string{"user-group"}).Build()
		s, err := jwt.Sign(t, jwt.WithKey(jwa.RS256(), key))
		if err != nil {
			tb.Fatal(err)
		}
		toks[i] = string(s)
	}
	return srv, toks
}

func abs(tb testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

const usersBody = `{"name":"Ada Lovelace","email":"ada@example.com","role":"user"}`

func TestFullPipelineAllowsAValidRequest(t *testing.T) {
	srv, toks := fullPipeline(t, 1)
	for _, tc := range []struct {
		name, body, token string
		want              int
	}{
		{"a valid body with a valid token is forwarded", usersBody, toks[0], 200},
		{"an invalid body with a valid token is a 400", `{"name":""}`, toks[0], 400},
		{"no token is a 401", usersBody, "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}

// BenchmarkFullPipeline measures one POST through every stage (cached JWT,
// body read and JSON limits, OpenAPI validation, Rego decision, proxying to a
// local upstream, decision-log event) in process.
func BenchmarkFullPipeline(b *testing.B) {
	benchPipeline(b, true, false)
}

// BenchmarkFullPipelineShadow is BenchmarkFullPipeline with a shadow
// bundle (policy.shadow): the enforced path's cost of handing each
// request to the shadow (issue 16).
func BenchmarkFullPipelineShadow(b *testing.B) {
	benchPipeline(b, true, true)
}

// BenchmarkJWTOnly is make bench's configuration (b) in process: a cached
// JWT, an allow-all policy, no validation and no decision log.
func BenchmarkJWTOnly(b *testing.B) {
	benchPipeline(b, false, false)
}

func benchPipeline(b *testing.B, full, shadow bool) {
	srv, toks := shadowPipeline(b, 1000, full, shadow)
	drive(b, srv, toks, func(tok string) *http.Request {
		req := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(usersBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	})
}

// drive serves one request of each token (the verified-token cache is
// warm, as in steady state), then measures the requests of the tokens in
// turn; every answer must be a 200.
func drive(b *testing.B, srv *Server, toks []string, request func(tok string) *http.Request) {
	send := func(tok string) {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, request(tok))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	for _, tok := range toks {
		send(tok)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		send(toks[i%len(toks)])
		i++
	}
}

// BenchmarkFullPipelineGET is BenchmarkFullPipeline with a GET whose query
// parameters are validated (listUsers), no body: the request of make
// bench's peer-style configuration (i), in process.
func BenchmarkFullPipelineGET(b *testing.B) {
	srv, toks := fullPipeline(b, 1000)
	drive(b, srv, toks, func(tok string) *http.Request {
		req := httptest.NewRequest("GET", "/api/v1/users?limit=10", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	})
}
