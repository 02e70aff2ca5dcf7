package tests

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testpki"
)

// tlsListen is the listen section's addition for a gateway serving testTLS's files.
const tlsListen = "  tls_cert_file: cert.pem\n  tls_key_file: key.pem\n"

// testTLS holds a certificate for 127.0.0.1 (and api.example.com), as
// cert.pem and key.pem for the gateway, and a pool of its issuer for the
// clients.
type testTLS struct {
	files map[string]string
	pool  *x509.CertPool
}

func newTestTLS(t *testing.T) testTLS {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	leaf := ca.Issue(t, "127.0.0.1", testpki.Options{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"api.example.com"}})
	return testTLS{
		files: map[string]string{"cert.pem": string(leaf.CertPEM), "key.pem": string(leaf.KeyPEM)},
		pool:  ca.Pool(),
	}
}

// clients returns an HTTP/1.1 and an HTTP/2 client that trust the
// certificate, keyed by the protocol each must be answered over
// (resp.Proto); a call answered over the other one fails.
func (c testTLS) clients(t *testing.T) map[string]*http.Client {
	t.Helper()
	h1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}, ForceAttemptHTTP2: true}
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	return map[string]*http.Client{
		"HTTP/1.1": {Transport: protoOnly{h1, "HTTP/1.1"}, Timeout: 10 * time.Second},
		"HTTP/2.0": {Transport: protoOnly{h2, "HTTP/2.0"}, Timeout: 10 * time.Second},
	}
}

// protoOnly fails every round trip not answered over proto.
type protoOnly struct {
	http.RoundTripper
	proto string
}

func (p protoOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.RoundTripper.RoundTrip(r)
	if err == nil && resp.Proto != p.proto {
		resp.Body.Close()
		return nil, fmt.Errorf("answered over %s, want %s", resp.Proto, p.proto)
	}
	return resp, err
}
