package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

var now = time.Unix(1_750_000_000, 0)

func newKey(t testing.TB, kid string) (*ecdsa.PrivateKey, jwk.Key) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, kid)
	_ = pub.Set(jwk.AlgorithmKey, jwa.ES256())
	return priv, pub
}

func goodClaims() Claims {
	return Claims{
		Issuer: "portcullis", Audience: "http://users:9000", Subject: "alice", Authn: "jwt",
		DecisionID: "d1", ID: "j1", IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix(),
		Method: "GET", Path: "/api/v1/users/alice",
	}
}

func sign(t testing.TB, priv *ecdsa.PrivateKey, kid, typ string, c Claims) string {
	t.Helper()
	payload, _ := json.Marshal(c)
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	_ = h.Set(jws.TypeKey, typ)
	b, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unsigned builds an alg "none" token by hand: jwx refuses to make one.
func unsigned(c Claims) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(c)
	return enc([]byte(`{"alg":"none","kid":"k1","typ":"`+Type+`"}`)) + "." + enc(payload) + "."
}

func TestVerify(t *testing.T) {
	priv, pub := newKey(t, "k1")
	other, _ := newKey(t, "k1") // same kid, not the published key
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	v, err := New(Options{KeySet: set, Issuer: "portcullis", Audience: "http://users:9000", Skew: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Claims)) Claims { c := goodClaims(); f(&c); return c }
	tests := []struct {
		name, method, path string
		tokens             []string
		wantErr            string
	}{
		{"good", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, goodClaims())}, ""},
		{"within skew", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, with(func(c *Claims) { c.Expiry = now.Add(-3 * time.Second).Unix() }))}, ""},
		{"missing", "GET", "/api/v1/users/alice", nil, "no identity assertion"},
		{"two", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, goodClaims()), sign(t, priv, "k1", Type, goodClaims())}, "more than one"},
		{"forged by another key", "GET", "/api/v1/users/alice", []string{sign(t, other, "k1", Type, goodClaims())}, "signature"},
		{"unknown kid", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k2", Type, goodClaims())}, `no key "k2"`},
		{"expired", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, with(func(c *Claims) { c.Expiry = now.Add(-10 * time.Second).Unix() }))}, "expired"},
		{"issued in the future", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, with(func(c *Claims) { c.IssuedAt = now.Add(time.Minute).Unix() }))}, "future"},
		{"replayed for another path", "GET", "/api/v1/users/bob", []string{sign(t, priv, "k1", Type, goodClaims())}, "path"},
		{"replayed for another method", "DELETE", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, goodClaims())}, "method"},
		{"wrong audience", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, with(func(c *Claims) { c.Audience = "http://billing:9000" }))}, "audience"},
		{"wrong issuer", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, with(func(c *Claims) { c.Issuer = "someone" }))}, "issuer"},
		{"no jti", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", Type, with(func(c *Claims) { c.ID = "" }))}, "jti"},
		{"another JWT type", "GET", "/api/v1/users/alice", []string{sign(t, priv, "k1", "JWT", goodClaims())}, "typ"},
		{"unsigned (alg none)", "GET", "/api/v1/users/alice", []string{unsigned(goodClaims())}, `algorithm "none"`},
		{"garbage", "GET", "/api/v1/users/alice", []string{"not-a-jwt"}, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			for _, tok := range tt.tokens {
				r.Header.Add(DefaultHeader, tok)
			}
			c, err := v.Verify(r)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.wantErr == "" && c.Subject != "alice":
				t.Fatalf("claims = %+v", c)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestVerifyFetchesJWKS: the key set is fetched from the URL, and again
// (bounded by MinRefresh) for a kid it does not hold: a rotated key.
func TestVerifyFetchesJWKS(t *testing.T) {
	priv1, pub1 := newKey(t, "k1")
	priv2, pub2 := newKey(t, "k2")
	set := jwk.NewSet()
	_ = set.AddKey(pub1)
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches++
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	clock := now
	v, err := New(Options{JWKSURL: srv.URL, Issuer: "portcullis", Audience: "http://users:9000", Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	check := func(priv *ecdsa.PrivateKey, kid string, wantOK bool, wantFetches int) {
		t.Helper()
		c := goodClaims()
		c.IssuedAt, c.Expiry = clock.Unix(), clock.Add(time.Minute).Unix()
		r := httptest.NewRequest("GET", "/api/v1/users/alice", nil)
		r.Header.Set(DefaultHeader, sign(t, priv, kid, Type, c))
		_, err := v.Verify(r)
		if (err == nil) != wantOK || fetches != wantFetches {
			t.Fatalf("kid %s: err = %v, fetches = %d; want ok %v, %d fetches", kid, err, fetches, wantOK, wantFetches)
		}
	}
	check(priv1, "k1", true, 1)
	check(priv1, "k1", true, 1) // cached
	_ = set.AddKey(pub2)
	check(priv2, "k2", false, 1) // within MinRefresh of the last fetch
	clock = clock.Add(11 * time.Second)
	check(priv2, "k2", true, 2)
}

func TestMiddleware(t *testing.T) {
	priv, pub := newKey(t, "k1")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	v, _ := New(Options{KeySet: set, Issuer: "portcullis", Audience: "http://users:9000", Now: func() time.Time { return now }})
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(ClaimsFrom(r.Context()).Subject))
	}))
	for _, tok := range []string{"", sign(t, priv, "k1", Type, goodClaims())} {
		r := httptest.NewRequest("GET", "/api/v1/users/alice", nil)
		if tok != "" {
			r.Header.Set(DefaultHeader, tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if want := map[bool]int{true: 401, false: 200}[tok == ""]; w.Code != want || (want == 200 && w.Body.String() != "alice") {
			t.Errorf("token %t: %d %q", tok != "", w.Code, w.Body)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	set := jwk.NewSet()
	for _, o := range []Options{
		{Issuer: "i", Audience: "a"},
		{KeySet: set, JWKSURL: "http://x", Issuer: "i", Audience: "a"},
		{KeySet: set, Audience: "a"},
		{KeySet: set, Issuer: "i"},
		{KeySet: set, Issuer: "i", Audience: "a", Skew: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// TestImportsNothingOfTheGateway keeps the package importable by a
// backend alone: no gateway/ or policy/ package among its dependencies.
func TestImportsNothingOfTheGateway(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-e", "-deps", "github.com/portcullis/portcullis/gateway/assertion/verify").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/portcullis/portcullis/") && pkg != "github.com/portcullis/portcullis/gateway/assertion/verify" {
			t.Errorf("verify depends on %s", pkg)
		}
	}
}
