package authn

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/gateway/authn/clientcert"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/internal/testpki"
	"github.com/portcullis/portcullis/policy"
)

// TestClientCertDispatch: a verified certificate is a credential only on a
// route that enables client_cert, and one credential among others there.
func TestClientCertDispatch(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "Test CA")
	spiffe, _ := url.Parse("spiffe://prod.example/api")
	chain := ca.Sign(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "api"}, URIs: []*url.URL{spiffe}}).Chain
	certAuth, err := clientcert.New(clientcert.Options{Anchors: []*x509.Certificate{ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := clientcert.NewIndex(map[string]any{spiffe.String(): map[string]any{"consumer": "svc-api"}})
	if err != nil {
		t.Fatal(err)
	}
	certAuth.SetIndex(idx)
	withCert := func(r *http.Request) *http.Request {
		r.TLS = &tls.ConnectionState{PeerCertificates: chain[:1], VerifiedChains: [][]*x509.Certificate{chain}}
		return r
	}
	unverified := func(r *http.Request) *http.Request {
		r.TLS = &tls.ConnectionState{PeerCertificates: chain[:1]}
		return r
	}
	for _, tc := range []struct {
		name       string
		ra         config.RouteAuthn
		r          *http.Request
		wantReason string // "" succeeds
		wantMethod string
		presented  []pipeline.Presented
	}{
		{"a mapped certificate authenticates as its consumer", methods("client_cert", "jwt"), withCert(req("/")), "", policy.MethodClientCert, nil},
		{"a certificate and a token are ambiguous", methods("client_cert", "jwt"), withCert(req("/", "Authorization", "Bearer "+jws)), ReasonAmbiguous, "",
			[]pipeline.Presented{{Kind: kindBearer, Source: sourceHeader}, {Kind: kindClientCert, Source: sourceTLS}}},
		{"without a certificate the token authenticates", methods("client_cert", "jwt"), req("/", "Authorization", "Bearer "+jws), "", policy.MethodJWT, nil},
		{"a route without client_cert ignores the certificate", methods("jwt"), withCert(req("/", "Authorization", "Bearer "+jws)), "", policy.MethodJWT, nil},
		{"a route without client_cert does not count it as a credential", methods("jwt"), withCert(req("/")), ReasonMissing, "", nil},
		{"a certificate the handshake did not verify is no credential", methods("client_cert"), unverified(req("/")), ReasonMissing, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jwt, in, key := fakes()
			mw, err := New(testConfig(), &config.Route{Name: "r", Authn: tc.ra}, Authenticators{JWT: jwt, Introspection: in, APIKey: key, ClientCert: certAuth, Identity: header.NewSet(IdentityHeaders(testConfig())...)})
			if err != nil {
				t.Fatal(err)
			}
			st := newTestState()
			var ran bool
			h := mw(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { ran = true; return nil }))
			err = h.ServeHTTP(httptest.NewRecorder(), st.with(tc.r))
			st.done(err)
			if tc.wantReason != "" {
				if err == nil || string(st.Reason) != tc.wantReason || ran {
					t.Fatalf("got %v (reason %q, next ran %v), want %s", err, st.Reason, ran, tc.wantReason)
				}
				if tc.presented != nil && !slices.Equal(st.Presented, tc.presented) {
					t.Fatalf("presented %v, want %v", st.Presented, tc.presented)
				}
				return
			}
			if err != nil || !ran || st.Identity.Method != tc.wantMethod {
				t.Fatalf("got %v, identity %+v, want method %s", err, st.Identity, tc.wantMethod)
			}
			if tc.wantMethod == policy.MethodClientCert {
				if st.Identity.Consumer != "svc-api" || st.Identity.Certificate == nil || st.SetHeaders.Get("X-Consumer-Username") != "svc-api" {
					t.Fatalf("identity %+v, headers %v: want consumer svc-api with its certificate, sent upstream", st.Identity, st.SetHeaders)
				}
			}
		})
	}
}

func TestClientCertMethodNeedsItsAuthenticator(t *testing.T) {
	t.Parallel()
	_, err := New(testConfig(), &config.Route{Name: "r", Authn: methods("client_cert")}, Authenticators{})
	if err == nil || err.Error() != `route "r": authn method client_cert is enabled but not configured` {
		t.Fatalf("got %v", err)
	}
}
