package tests

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testpki"
)

// tlsBackend is an upstream that requires a client certificate of
// clients and answers with the certificate's common name and the protocol
// it was asked over.
func tlsBackend(t *testing.T, server testpki.Leaf, clients *testpki.CA, h2 bool, maxVersion uint16) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.TLS.PeerCertificates[0].Subject.CommonName, r.Proto)
	}))
	s.EnableHTTP2 = h2
	s.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients.Pool(), MaxVersion: maxVersion}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// TestUpstreamTLS runs a gateway with routes to Go TLS upstreams that
// require a client certificate: right settings pass over HTTP/1.1 and
// HTTP/2 with the client certificate seen; each wrong one is 502
// upstream_tls_failed with its cause in the log; a rotated client pair is
// used without a restart.
func TestUpstreamTLS(t *testing.T) {
	t.Parallel()
	backendCA, clientCA, rotatedCA := testpki.NewCA(t, "backend CA"), testpki.NewCA(t, "client CA"), testpki.NewCA(t, "rotated CA")
	serverCert := backendCA.Issue(t, "backend", testpki.Options{DNSNames: []string{"backend.test"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	client := clientCA.Issue(t, "gateway", testpki.Options{})
	rotated := rotatedCA.Issue(t, "gateway-rotated", testpki.Options{})

	h1 := tlsBackend(t, serverCert, clientCA, false, 0)
	h2 := tlsBackend(t, serverCert, clientCA, true, 0)
	tls12 := tlsBackend(t, serverCert, clientCA, true, tls.VersionTLS12)
	// It trusts only the authority of the pair the test rotates to.
	rotating := tlsBackend(t, serverCert, rotatedCA, false, 0)

	route := func(name, upstream, tlsBlock string) string {
		return fmt.Sprintf("  - name: %s\n    match: {path_prefix: /%s}\n    strip_prefix: /%s\n    upstream: %s\n    authn: {anonymous: true}\n    tls: %s\n",
			name, name, name, upstream, tlsBlock)
	}
	const mtls = "{ca_file: pki/ca.pem, cert_file: pki/client.pem, key_file: pki/client-key.pem"
	g := startGateway(t, gatewayConfig{
		Body: "policy:\n  bundles: [{name: main, path: bundle}]\n  debounce: 50ms\nroutes:\n" +
			route("h1", h1.URL, mtls+"}") +
			route("h2", h2.URL, mtls+"}") +
			route("nocert", h1.URL, "{ca_file: pki/ca.pem}") +
			route("wrongca", h1.URL, "{ca_file: pki/other-ca.pem, cert_file: pki/client.pem, key_file: pki/client-key.pem}") +
			route("badname", h2.URL, mtls+", server_name: users.internal}") +
			route("tls13", tls12.URL, mtls+", min_version: '1.3'}") +
			route("rotate", rotating.URL, "{ca_file: pki/ca.pem, cert_file: pki/rotate.pem, key_file: pki/rotate-key.pem}"),
		Files: withFiles(allowAllBundle, map[string]string{
			"pki/ca.pem":         string(backendCA.PEM),
			"pki/other-ca.pem":   string(testpki.NewCA(t, "other CA").PEM),
			"pki/client.pem":     string(client.CertPEM),
			"pki/client-key.pem": string(client.KeyPEM),
			"pki/rotate.pem":     string(client.CertPEM),
			"pki/rotate-key.pem": string(client.KeyPEM),
		}),
	})

	for _, tc := range []struct {
		name, path string
		status     int
		body       string // the upstream's answer, or the problem's reason
		logged     string // the TLS cause in the gateway's log
	}{
		{"the right CA and client certificate pass over HTTP/1.1", "/h1/x", 200, "gateway HTTP/1.1", ""},
		{"the right CA and client certificate pass over HTTP/2", "/h2/x", 200, "gateway HTTP/2.0", ""},
		{"no client certificate is refused by the upstream", "/nocert/x", 502, "upstream_tls_failed", "tls: certificate required"},
		{"a CA that did not sign the upstream's certificate", "/wrongca/x", 502, "upstream_tls_failed", "x509: certificate signed by unknown authority"},
		{"a server_name the certificate does not name", "/badname/x", 502, "upstream_tls_failed", "not users.internal"},
		{"TLS 1.3 required of a TLS 1.2 upstream", "/tls13/x", 502, "upstream_tls_failed", "protocol version not supported"},
		{"a client certificate of an authority the upstream does not trust", "/rotate/x", 502, "upstream_tls_failed", "tls: unknown certificate authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := g.do("GET", tc.path, nil, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, readAll(t, resp))
			}
			if tc.status == 200 {
				if body := readAll(t, resp); body != tc.body {
					t.Fatalf("upstream answered %q, want %q", body, tc.body)
				}
				return
			}
			if p := decodeProblem(t, resp); p["reason"] != tc.body {
				t.Fatalf("reason %v, want %s", p["reason"], tc.body)
			}
			// The log line may follow the answer: wait for it.
			if !authnPoll(5*time.Second, func() bool { return strings.Contains(g.stderr.String(), tc.logged) }) {
				t.Fatalf("the gateway's log lacks the cause %q:\n%s", tc.logged, g.stderr.String())
			}
		})
	}

	t.Run("a rotated client pair is used without a restart", func(t *testing.T) {
		before := genGetStatus(t, g).Generation
		// Key first: the half-rotated pair in between fails its build
		// and the running generation stays.
		for _, f := range []struct {
			name string
			b    []byte
		}{{"pki/rotate-key.pem", rotated.KeyPEM}, {"pki/rotate.pem", rotated.CertPEM}} {
			if err := os.WriteFile(filepath.Join(g.dir, f.name), f.b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp := g.do("GET", "/rotate/x", nil, nil)
			body := readAll(t, resp)
			if resp.StatusCode == 200 {
				if body != "gateway-rotated HTTP/1.1" {
					t.Fatalf("upstream answered %q, want the rotated certificate's subject", body)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still %d %s after the rotation:\n%s", resp.StatusCode, body, g.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if after := genGetStatus(t, g).Generation; after <= before {
			t.Fatalf("generation %d after %d: the rotation was not a new generation", after, before)
		}
		// The other routes kept working on their own certificates.
		if resp := g.do("GET", "/h2/x", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("/h2 after the rotation: %d %s", resp.StatusCode, readAll(t, resp))
		}
	})
}
