package jwt_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

const (
	issRS     = "https://rs.test"     // JWKS, RS256 PS256 ES256 EdDSA, aud "api"
	issHS     = "https://hs.test"     // HS256 secret
	issStatic = "https://static.test" // key files, RS256 ES256 EdDSA, max_token_age 1h, requires sub
	secret    = "0123456789abcdef0123456789abcdef-hs"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// signingKeys are generated once: RSA key generation is slow.
type signingKeys struct {
	rsa, ec, ed, other jwk.Key
	hs                 jwk.Key
}

var (
	keysOnce sync.Once
	keys     signingKeys
)

func testKeys(t testing.TB) signingKeys {
	keysOnce.Do(func() {
		keys.rsa, keys.ec, keys.ed, keys.other = gwtest.NewRSAKey(t), gwtest.NewECKey(t), gwtest.NewEdKey(t), gwtest.NewRSAKey(t)
		hs, err := jwk.Import([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		keys.hs = hs
	})
	return keys
}

type env struct {
	keys  signingKeys
	a     *jwt.Authenticator
	clock *gwtest.Clock
	srv   *gwtest.JWKSServer
	reg   *prometheus.Registry
}

type envOption func(*config.JWT)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	k := testKeys(t)
	e := &env{keys: k, clock: gwtest.NewClock(t0), srv: gwtest.NewJWKSServer(t, k.rsa, k.ec, k.ed), reg: prometheus.NewRegistry()}
	skew := 30 * time.Second
	cfg := config.JWT{
		MaxTokenBytes: 32 << 10,
		Issuers: []config.Issuer{
			{
				Issuer: issRS, JWKSURI: e.srv.URL(), Algorithms: []string{"RS256", "PS256", "ES256", "EdDSA"},
				Audiences: []string{"api"}, ClockSkew: &skew, MinRefreshInterval: 30 * time.Second,
			},
			{Issuer: issHS, Secret: config.NewSecret(secret), Algorithms: []string{"HS256"}, ClockSkew: &skew},
			{
				Issuer: issStatic, Keys: writeKeyFiles(t, k), Algorithms: []string{"RS256", "ES256", "EdDSA"},
				MaxTokenAge: time.Hour, RequiredClaims: []string{"exp", "sub"}, GroupsClaim: "roles",
			},
		},
	}
	cfg = defaulted(cfg)
	for _, o := range opts {
		o(&cfg)
	}
	a, err := jwt.New(cfg, jwt.Options{Now: e.clock.Now, Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	e.a = a
	return e
}

// writeKeyFiles writes the RSA key as a PEM file and the EC and Ed25519
// keys as a JWKS file, both public.
func writeKeyFiles(t testing.TB, k signingKeys) []string {
	t.Helper()
	dir := t.TempDir()
	pemPath := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(pemPath, pemOf(t, k.rsa), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(gwtest.PublicSet(t, k.ec, k.ed))
	if err != nil {
		t.Fatal(err)
	}
	setPath := filepath.Join(dir, "keys.jwks.json")
	if err := os.WriteFile(setPath, set, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{pemPath, setPath}
}

// claims returns valid claims for iss at the env's time, with over applied
// (a nil value deletes a claim).
func (e *env) claims(iss string, over map[string]any) map[string]any {
	now := e.clock.Now().Unix()
	c := map[string]any{"iss": iss, "sub": "alice", "aud": "api", "exp": now + 600, "iat": now, "nbf": now}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (e *env) auth(token string) (*policy.Identity, error) {
	return e.a.Authenticate(context.Background(), pipeline.Credential{Kind: "bearer", Source: "header", Value: token})
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
