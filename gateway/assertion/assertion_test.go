package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/gateway/assertion/verify"
	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

// keyFile writes a PEM private key of kind ("ed25519", "p256", "p384",
// "rsa", "sec1") and returns its path.
func keyFile(t testing.TB, dir, kind string) string {
	t.Helper()
	var k any
	var err error
	switch kind {
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "p256", "sec1":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	blk := &pem.Block{Type: "PRIVATE KEY"}
	if kind == "sec1" {
		blk.Type = "EC PRIVATE KEY"
		blk.Bytes, err = x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	} else {
		blk.Bytes, err = x509.MarshalPKCS8PrivateKey(k)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, kind+".pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		kind, wantAlg, wantErr string
	}{
		{"ed25519", "EdDSA", ""},
		{"p256", "ES256", ""},
		{"sec1", "ES256", ""},
		{"p384", "", "want P-256"},
		{"rsa", "", "cannot sign assertions"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			ks, err := Load(&config.IdentityAssertion{Issuer: "portcullis", Keys: []config.AssertionKey{{File: keyFile(t, dir, tt.kind)}}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			set, err := jwk.Parse(ks.JWKS())
			if err != nil || set.Len() != 1 {
				t.Fatalf("JWKS %s: %v", ks.JWKS(), err)
			}
			k, _ := set.Key(0)
			alg, _ := k.Algorithm()
			kid, _ := k.KeyID()
			if alg.String() != tt.wantAlg || kid == "" {
				t.Fatalf("alg %v kid %q", alg, kid)
			}
			if strings.Contains(string(ks.JWKS()), `"d"`) {
				t.Fatalf("JWKS holds a private key: %s", ks.JWKS())
			}
		})
	}
	if _, err := Load(&config.IdentityAssertion{Issuer: "portcullis", Keys: []config.AssertionKey{{File: filepath.Join(dir, "missing.pem")}}}); err == nil {
		t.Fatal("a missing key file loaded")
	}
}

// TestSigningKey is the rotation rule: every key is published, the one
// whose start came last signs, and before any has started the first does.
func TestSigningKey(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ks := &Keys{keys: []*key{{kid: "old", start: t0}, {kid: "new", start: t0.Add(time.Hour)}, {kid: "later", start: t0.Add(2 * time.Hour)}}}
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Hour), "old"},
		{t0, "old"},
		{t0.Add(59 * time.Minute), "old"},
		{t0.Add(time.Hour), "new"},
		{t0.Add(3 * time.Hour), "later"},
	} {
		if got := ks.signing(tt.at).kid; got != tt.want {
			t.Errorf("at %s: %s signs, want %s", tt.at, got, tt.want)
		}
	}
	// Without not_before a key starts rotation_overlap after its file's time.
	dir := t.TempDir()
	first, second := keyFile(t, dir, "ed25519"), keyFile(t, dir, "p256")
	mtime := time.Now().Add(-time.Hour)
	_ = os.Chtimes(first, mtime, mtime)
	loaded, err := Load(&config.IdentityAssertion{Issuer: "i", RotationOverlap: 10 * time.Minute, Keys: []config.AssertionKey{
		{File: first, KeyID: "a"}, {File: second, KeyID: "b"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.signing(time.Now()).kid; got != "a" {
		t.Errorf("a key written just now signs at once (%s)", got)
	}
	if got := loaded.signing(time.Now().Add(11 * time.Minute)).kid; got != "b" {
		t.Errorf("after the overlap %s signs, want b", got)
	}
}

func newSigner(t testing.TB, kind string) (*Signer, *verify.Verifier) {
	t.Helper()
	ks, err := Load(&config.IdentityAssertion{Issuer: "portcullis", Keys: []config.AssertionKey{{File: keyFile(t, t.TempDir(), kind)}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ks, &config.RouteAssertion{Header: "x-portcullis-assertion", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(ks.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Options{KeySet: set, Issuer: "portcullis", Audience: "http://users:9000"})
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// allowed is a request of alice that the policy allowed (decision d-1),
// as the proxy hands it to the stamper, and its upstream.
func allowed(method string) (*url.URL, *http.Request) {
	up, _ := url.Parse("http://users:9000")
	rq := &pipeline.Request{}
	doc := &input.Doc{}
	doc.Identity = &policy.Identity{Authenticated: true, Method: "jwt", Subject: "alice", Groups: []string{"admins"}}
	input.Part.Bind(rq, doc)
	authz.ResultPart.Bind(rq, &authz.Result{DecisionID: "d-1"})
	in := httptest.NewRequest(method, "/users/alice", nil)
	return up, in.WithContext(pipeline.WithRequest(in.Context(), rq))
}

func TestStampVerifies(t *testing.T) {
	for _, kind := range []string{"ed25519", "p256"} {
		t.Run(kind, func(t *testing.T) {
			s, v := newSigner(t, kind)
			up, in := allowed("POST")

			tok := s.Stamp(in, up, "/v1/users/alice")
			back := httptest.NewRequest("POST", "/v1/users/alice", nil)
			back.Header.Set(verify.DefaultHeader, tok)
			c, err := v.Verify(back)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "alice" || c.Authn != "jwt" || c.DecisionID != "d-1" || c.Groups[0] != "admins" || c.Audience != "http://users:9000" {
				t.Fatalf("claims %+v", c)
			}
			// Nothing is reused: the next request gets its own jti.
			var again verify.Claims
			payload := strings.Split(s.Stamp(in, up, "/v1/users/alice"), ".")[1]
			raw, _ := base64.RawURLEncoding.DecodeString(payload)
			if err := json.Unmarshal(raw, &again); err != nil || again.ID == c.ID {
				t.Fatalf("second assertion jti %q, first %q (%v)", again.ID, c.ID, err)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	ks := &Keys{}
	for _, a := range []*config.RouteAssertion{nil, {TTL: time.Minute}, {Header: "X-A"}} {
		if _, err := New(ks, a); err == nil {
			t.Errorf("New(%+v) accepted", a)
		}
	}
	if _, err := New(nil, &config.RouteAssertion{Header: "X-A", TTL: time.Minute}); err == nil {
		t.Error("New without keys accepted")
	}
}

// BenchmarkStamp is the cost of one assertion (make bench measures it in
// the whole pipeline).
func BenchmarkStamp(b *testing.B) {
	for _, kind := range []string{"ed25519", "p256"} {
		b.Run(kind, func(b *testing.B) {
			s, _ := newSigner(b, kind)
			up, in := allowed("GET")
			b.ReportAllocs()
			for b.Loop() {
				if s.Stamp(in, up, "/v1/users/alice") == "" {
					b.Fatal("no assertion")
				}
			}
		})
	}
}
