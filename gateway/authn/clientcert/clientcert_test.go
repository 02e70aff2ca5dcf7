package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/internal/testpki"
	"github.com/portcullis/portcullis/policy"
)

func fingerprint(c *x509.Certificate) string {
	fp := sha256.Sum256(c.Raw)
	return FingerprintPrefix + hex.EncodeToString(fp[:])
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNewIndexRefusesWhatCannotMapOneWay(t *testing.T) {
	t.Parallel()
	fp := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name    string
		data    any
		want    string // "" accepts
		entries int
	}{
		{"absent data is an empty table", nil, "", 0},
		{"a fingerprint and a SPIFFE ID", map[string]any{fp: map[string]any{"consumer": "a"}, "spiffe://prod.example/api": map[string]any{"consumer": "b", "groups": []any{"svc"}}}, "", 2},
		{"a table that is not an object", []any{}, `client_certs: want an object`, 0},
		{"a short fingerprint", map[string]any{"sha256:abcd": map[string]any{"consumer": "a"}}, `client_certs["sha256:abcd"]: a fingerprint key wants "sha256:" and 64 hex digits`, 0},
		{"a key that is neither", map[string]any{"CN=billing": map[string]any{"consumer": "a"}}, `client_certs["CN=billing"]: want "sha256:" and 64 hex digits, or an absolute URI`, 0},
		{"one fingerprint in two spellings", map[string]any{fp: map[string]any{"consumer": "a"}, "sha256:" + strings.ToUpper(fp[7:]): map[string]any{"consumer": "b"}}, `same fingerprint as "sha256:ABAB`, 0},
		{"a prefix in capitals is not a URI", map[string]any{"SHA256:" + fp[7:]: map[string]any{"consumer": "a"}}, `a fingerprint key wants "sha256:"`, 0},
		{"an entry without a consumer", map[string]any{fp: map[string]any{"groups": []any{"x"}}}, `.consumer: want a non-empty string`, 0},
		{"a misspelt field", map[string]any{fp: map[string]any{"consumer": "a", "group": []any{"x"}}}, `.group: unknown field (want consumer, groups)`, 0},
		{"groups that are not strings", map[string]any{fp: map[string]any{"consumer": "a", "groups": []any{1.0}}}, `.groups[0]: want a non-empty string`, 0},
		{"an entry that is not an object", map[string]any{fp: "a"}, `ab"]: want an object`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, err := NewIndex(tc.data)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("NewIndex: %v", err)
			case tc.want == "" && x.Len() != tc.entries:
				t.Fatalf("Len = %d, want %d", x.Len(), tc.entries)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("NewIndex error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAuthenticateMapsTheVerifiedLeaf(t *testing.T) {
	t.Parallel()
	ca, other := testpki.NewCA(t, "Test CA"), testpki.NewCA(t, "Other CA")
	spiffe := ca.Sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(0x1f2e), Subject: pkix.Name{CommonName: "billing", Organization: []string{"Example"}},
		URIs:     []*url.URL{mustURL(t, "spiffe://prod.example/ns/billing/sa/api")},
		DNSNames: []string{"billing.internal"}, EmailAddresses: []string{"ops@example.com"},
	}).Chain
	pinned := ca.Sign(t, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "batch"},
		URIs: []*url.URL{mustURL(t, "spiffe://prod.example/ns/billing/sa/api")}}).Chain
	unmapped := ca.Sign(t, &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "stranger"}, DNSNames: []string{"stranger.internal"}}).Chain
	foreign := other.Sign(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "billing"},
		URIs: []*url.URL{mustURL(t, "spiffe://prod.example/ns/billing/sa/api")}}).Chain
	pinnedKey := "sha256:" + strings.ToUpper(fingerprint(pinned[0])[7:]) // hex in any case
	idx, err := NewIndex(map[string]any{
		"spiffe://prod.example/ns/billing/sa/api": map[string]any{"consumer": "billing", "groups": []any{"services"}},
		// A fingerprint is more specific than the workload's URI.
		pinnedKey: map[string]any{"consumer": "batch"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Anchors: []*x509.Certificate{ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	a.SetIndex(idx)

	id, err := a.Authenticate([][]*x509.Certificate{spiffe})
	if err != nil {
		t.Fatal(err)
	}
	want := &policy.Identity{
		Authenticated: true, Method: policy.MethodClientCert, Subject: "billing", Consumer: "billing", Groups: []string{"services"},
		KeyID: "spiffe://prod.example/ns/billing/sa/api", ExpiresAt: spiffe[0].NotAfter,
		Certificate: &policy.Certificate{
			Subject: "CN=billing,O=Example", Issuer: "CN=Test CA", Serial: "1f2e", FingerprintSHA256: fingerprint(spiffe[0]),
			DNSNames: []string{"billing.internal"}, URIs: []string{"spiffe://prod.example/ns/billing/sa/api"}, Emails: []string{"ops@example.com"},
			NotAfter: spiffe[0].NotAfter,
		},
	}
	if got := *id.Certificate; got.Subject != want.Certificate.Subject || got.Issuer != want.Certificate.Issuer || got.Serial != want.Certificate.Serial ||
		got.FingerprintSHA256 != want.Certificate.FingerprintSHA256 || !slices.Equal(got.DNSNames, want.Certificate.DNSNames) ||
		!slices.Equal(got.URIs, want.Certificate.URIs) || !slices.Equal(got.Emails, want.Certificate.Emails) || !got.NotAfter.Equal(want.Certificate.NotAfter) {
		t.Fatalf("certificate = %+v, want %+v", got, *want.Certificate)
	}
	if id.Method != want.Method || id.Subject != want.Subject || id.Consumer != want.Consumer || id.KeyID != want.KeyID || !slices.Equal(id.Groups, want.Groups) || !id.Authenticated {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}

	id, err = a.Authenticate([][]*x509.Certificate{pinned})
	if err != nil || id.Consumer != "batch" || id.KeyID != pinnedKey {
		t.Fatalf("a certificate with a fingerprint entry and a URI entry: %+v, %v; want the fingerprint's consumer", id, err)
	}

	for _, tc := range []struct {
		name   string
		chains [][]*x509.Certificate
		now    time.Time
		status int
		reason problem.Reason
	}{
		{"a certificate no entry maps gets 401", [][]*x509.Certificate{unmapped}, time.Now(), 401, ReasonUnknown},
		{"a chain to a CA no longer in the file gets 401", [][]*x509.Certificate{foreign}, time.Now(), 401, ReasonUntrusted},
		{"no verified chain gets 401", nil, time.Now(), 401, ReasonUntrusted},
		{"a certificate that expired since the handshake gets 401", [][]*x509.Certificate{spiffe}, time.Now().Add(25 * time.Hour), 401, ReasonExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(Options{Anchors: []*x509.Certificate{ca.Cert}, Now: func() time.Time { return tc.now }})
			if err != nil {
				t.Fatal(err)
			}
			a.SetIndex(idx)
			id, err := a.Authenticate(tc.chains)
			p := problem.As(err)
			if id != nil || p == nil || p.Status != tc.status || p.Reason != tc.reason {
				t.Fatalf("Authenticate = %+v, %v; want %d %s", id, err, tc.status, tc.reason)
			}
			if p.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("a 401 without WWW-Authenticate")
			}
		})
	}
}

func TestAuthenticateFailsClosedWithoutMappings(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "Test CA")
	a, err := New(Options{Anchors: []*x509.Certificate{ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate([][]*x509.Certificate{ca.Sign(t, &x509.Certificate{SerialNumber: big.NewInt(2)}).Chain})
	if p := problem.As(err); p == nil || p.Status != http.StatusServiceUnavailable || p.Reason != ReasonUnavailable {
		t.Fatalf("Authenticate before SetIndex = %v, want 503 %s", err, ReasonUnavailable)
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without anchors succeeded")
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ca := testpki.NewCA(b, "Bench CA")
	u, _ := url.Parse("spiffe://prod.example/api")
	chain := ca.Sign(b, &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "api"}, URIs: []*url.URL{u}, DNSNames: []string{"api.internal"}}).Chain
	a, err := New(Options{Anchors: []*x509.Certificate{ca.Cert}})
	if err != nil {
		b.Fatal(err)
	}
	idx, err := NewIndex(map[string]any{u.String(): map[string]any{"consumer": "api"}})
	if err != nil {
		b.Fatal(err)
	}
	a.SetIndex(idx)
	chains := [][]*x509.Certificate{chain}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(chains); err != nil {
			b.Fatal(err)
		}
	}
}
