package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// tlsListen is the listen section's addition for a gateway serving testTLS's files.
const tlsListen = "  tls_cert_file: cert.pem\n  tls_key_file: key.pem\n"

// testTLS holds a self-signed certificate for 127.0.0.1 (and
// api.example.com), as cert.pem and key.pem for the gateway and a pool for
// the clients.
type testTLS struct {
	files map[string]string
	pool  *x509.CertPool
}

func newTestTLS(t *testing.T) testTLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(12), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"api.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(mustParseCert(t, der))
	return testTLS{
		files: map[string]string{
			"cert.pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			"key.pem":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})),
		},
		pool: pool,
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
