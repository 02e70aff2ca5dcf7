package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/internal/testpki"
)

// pki is a backend authority with a server certificate for 127.0.0.1 and
// backend.test, and a client authority with a certificate for "gateway",
// all as files in dir.
type pki struct {
	dir                string
	backendCA, clients *testpki.CA
	server             testpki.Leaf
	// caFile trusts backendCA; certFile, keyFile are the client pair.
	caFile, certFile, keyFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), backendCA: testpki.NewCA(t, "backend CA"), clients: testpki.NewCA(t, "client CA")}
	p.server = p.backendCA.Issue(t, "backend", testpki.Options{DNSNames: []string{"backend.test"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cl := p.clients.Issue(t, "gateway", testpki.Options{})
	p.caFile = testpki.Write(t, p.dir, "ca.pem", p.backendCA.PEM)
	p.certFile = testpki.Write(t, p.dir, "client.pem", cl.CertPEM)
	p.keyFile = testpki.Write(t, p.dir, "client-key.pem", cl.KeyPEM)
	return p
}

// backend is a TLS upstream with cert that requires a client certificate
// of p.clients and answers with its common name and the protocol.
func (p *pki) backend(t *testing.T, cert testpki.Leaf, h2 bool, edit func(*tls.Config)) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName+" "+r.Proto)
	}))
	s.EnableHTTP2 = h2
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.clients.Pool()}
	if edit != nil {
		edit(s.TLS)
	}
	// The server's own log of refused handshakes is noise here.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (p *pki) settings() *config.UpstreamTLS {
	return &config.UpstreamTLS{CAFile: p.caFile, MinVersion: "1.2", CertFile: p.certFile, KeyFile: p.keyFile}
}

func tlsProxy(t *testing.T, upstream string, c *config.UpstreamTLS) *Proxy {
	t.Helper()
	r := routeTo(t, 5*time.Second, upstream)
	var lt *TLS
	if c != nil {
		var err error
		if lt, err = LoadTLS(c); err != nil {
			t.Fatal(err)
		}
		r.TLS = c
	}
	px, err := New(r, transport(t, lt))
	if err != nil {
		t.Fatal(err)
	}
	return px
}

func TestLoadTLSErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	other := p.clients.Issue(t, "other", testpki.Options{})
	otherKey := testpki.Write(t, p.dir, "other-key.pem", other.KeyPEM)
	garbage := testpki.Write(t, p.dir, "garbage.pem", []byte("# not a certificate\n"))
	keyInBundle := testpki.Write(t, p.dir, "bundle.pem", append(append([]byte{}, p.backendCA.PEM...), other.KeyPEM...))
	missing := filepath.Join(p.dir, "missing.pem")
	with := func(edit func(*config.UpstreamTLS)) *config.UpstreamTLS {
		c := p.settings()
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name string
		c    *config.UpstreamTLS
		want string
	}{
		{"a missing CA file is named", with(func(c *config.UpstreamTLS) { c.CAFile = missing }),
			"tls.ca_file: open " + missing + ": no such file or directory"},
		{"a CA file without certificates is refused", with(func(c *config.UpstreamTLS) { c.CAFile = garbage }),
			"tls.ca_file " + garbage + ": no PEM certificate found"},
		{"a key in the CA bundle is refused", with(func(c *config.UpstreamTLS) { c.CAFile = keyInBundle }),
			"tls.ca_file " + keyInBundle + `: PEM block 2 is "PRIVATE KEY", want CERTIFICATE`},
		{"a missing certificate file is named", with(func(c *config.UpstreamTLS) { c.CertFile = missing }),
			"tls.cert_file: open " + missing},
		{"a missing key file is named", with(func(c *config.UpstreamTLS) { c.KeyFile = missing }),
			"tls.key_file: open " + missing},
		{"a key of another certificate is refused", with(func(c *config.UpstreamTLS) { c.KeyFile = otherKey }),
			"tls.cert_file " + p.certFile + ", tls.key_file " + otherKey + ": tls: private key does not match public key"},
		{"a certificate without its key is refused", with(func(c *config.UpstreamTLS) { c.KeyFile = "" }),
			"tls.cert_file: cert_file and key_file go together"},
		{"an unknown version is refused", with(func(c *config.UpstreamTLS) { c.MinVersion = "1.1" }),
			`tls.min_version: "1.1" is not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadTLS(tc.c)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadTLSDigestFollowsTheFiles(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	digest := func() string {
		lt, err := LoadTLS(p.settings())
		if err != nil {
			t.Fatal(err)
		}
		return lt.Digest()
	}
	first := digest()
	if again := digest(); again != first {
		t.Fatalf("the same files digest as %s and %s", first, again)
	}
	next := p.clients.Issue(t, "gateway-2", testpki.Options{})
	testpki.Write(t, p.dir, "client.pem", next.CertPEM)
	testpki.Write(t, p.dir, "client-key.pem", next.KeyPEM)
	if rotated := digest(); rotated == first {
		t.Fatal("a rotated client pair kept the digest")
	}
}

func TestNewRefusesTLSMismatch(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	lt, err := LoadTLS(p.settings())
	if err != nil {
		t.Fatal(err)
	}
	plain := routeTo(t, time.Second, "https://127.0.0.1:1", "http://127.0.0.1:2")
	plain.TLS = p.settings()
	if _, err := New(plain, transport(t, lt)); err == nil || !strings.Contains(err.Error(), `upstream "http://127.0.0.1:2" is http`) {
		t.Fatalf("tls with an http upstream: err = %v", err)
	}
	if _, err := New(routeTo(t, time.Second, "https://127.0.0.1:1"), transport(t, lt)); err == nil {
		t.Fatal("loaded TLS for a route without a tls block was accepted")
	}
}

// TestTLSUpstream forwards over mutual TLS, over HTTP/1.1 and HTTP/2 as
// the upstream offers.
func TestTLSUpstream(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		h2   bool
		want string
	}{
		{"an HTTP/1.1 upstream sees the client certificate", false, "gateway HTTP/1.1"},
		{"an HTTP/2 upstream is spoken to in HTTP/2", true, "gateway HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := p.backend(t, p.server, tc.h2, nil)
			px := tlsProxy(t, up.URL, p.settings())
			w, _, err := serve(px, httptest.NewRequest("GET", "/", nil), "127.0.0.1:1", nil)
			if err != nil || w.Code != 200 || w.Body.String() != tc.want {
				t.Fatalf("got %d %q, %v; want 200 %q", w.Code, w.Body.String(), err, tc.want)
			}
		})
	}
	t.Run("server_name is verified instead of the URL's host", func(t *testing.T) {
		t.Parallel()
		up := p.backend(t, p.server, true, nil)
		c := p.settings()
		c.ServerName = "backend.test"
		px := tlsProxy(t, strings.Replace(up.URL, "127.0.0.1", "localhost", 1), c)
		if w, _, err := serve(px, httptest.NewRequest("GET", "/", nil), "127.0.0.1:1", nil); err != nil || w.Code != 200 {
			t.Fatalf("got %d, %v", w.Code, err)
		}
	})
}

// TestTLSFailuresAreTheirOwnReason classifies real failed exchanges.
func TestTLSFailuresAreTheirOwnReason(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	expired := p.backendCA.Issue(t, "backend", testpki.Options{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Expired: true})
	elsewhere := testpki.NewCA(t, "elsewhere")
	otherCA := testpki.Write(t, p.dir, "other-ca.pem", elsewhere.PEM)
	stranger := elsewhere.Issue(t, "stranger", testpki.Options{})
	plainHTTP := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plainHTTP.Close)
	tls12 := func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }
	tls13 := func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }
	// TLS 1.3 servers refuse a client certificate after the client's
	// handshake; Go's HTTP/2 client loses that alert when it arrives before
	// the first stream (README, "TLS to upstreams"), so those rows are HTTP/1.1.
	for _, tc := range []struct {
		name     string
		cert     testpki.Leaf
		h1       bool
		server   func(*tls.Config)
		settings func(*config.UpstreamTLS) // nil: no tls block
		upstream string                    // instead of the backend
	}{
		{"an unknown authority", p.server, false, nil, func(c *config.UpstreamTLS) { c.CAFile = otherCA }, ""},
		{"the system roots do not know a private CA", p.server, false, nil, nil, ""},
		{"a name mismatch", p.server, false, nil, func(c *config.UpstreamTLS) { c.ServerName = "users.internal" }, ""},
		{"an expired certificate", expired, false, nil, func(*config.UpstreamTLS) {}, ""},
		{"no client certificate over TLS 1.2", p.server, false, tls12, func(c *config.UpstreamTLS) { c.CertFile, c.KeyFile = "", "" }, ""},
		{"no client certificate over TLS 1.3", p.server, true, tls13, func(c *config.UpstreamTLS) { c.CertFile, c.KeyFile = "", "" }, ""},
		{"a client certificate of another authority", p.server, true, tls13, func(c *config.UpstreamTLS) {
			c.CertFile = testpki.Write(t, p.dir, "stranger.pem", stranger.CertPEM)
			c.KeyFile = testpki.Write(t, p.dir, "stranger-key.pem", stranger.KeyPEM)
		}, ""},
		{"TLS 1.3 required of a TLS 1.2 upstream", p.server, false, tls12, func(c *config.UpstreamTLS) { c.MinVersion = "1.3" }, ""},
		{"an upstream that does not speak TLS", p.server, false, nil, func(*config.UpstreamTLS) {}, strings.Replace(plainHTTP.URL, "http:", "https:", 1)},
	} {
		t.Run(tc.name+" is 502 upstream_tls_failed", func(t *testing.T) {
			t.Parallel()
			u := tc.upstream
			if u == "" {
				u = p.backend(t, tc.cert, !tc.h1, tc.server).URL
			}
			var c *config.UpstreamTLS
			if tc.settings != nil {
				c = p.settings()
				tc.settings(c)
			}
			px := tlsProxy(t, u, c)
			_, _, err := serve(px, httptest.NewRequest("GET", "/", nil), "127.0.0.1:1", nil)
			if pr := problem.As(err); pr == nil || pr.Status != 502 || pr.Reason != "upstream_tls_failed" {
				t.Fatalf("err = %v, want 502 upstream_tls_failed", err)
			}
			if px.upstreams[0].ejectedAt.Load() != 0 {
				t.Fatal("a TLS failure ejected the upstream")
			}
		})
	}
}

func TestTLSFailureIsNotAConnectionError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a refused connection", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
		{"a reset on read", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
		{"a deadline", context.DeadlineExceeded, false},
		{"an unexpected EOF", io.ErrUnexpectedEOF, false},
		{"a record that is not TLS", tls.RecordHeaderError{Msg: "tls: first record does not look like a TLS handshake"}, true},
		{"a verification failure", &tls.CertificateVerificationError{Err: errors.New("x509: certificate signed by unknown authority")}, true},
		{"an alert received, wrapped", &urlError{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tlsFailure(tc.err); got != tc.want {
				t.Fatalf("tlsFailure(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// urlError wraps like *url.Error, which the transport's errors come in.
type urlError struct{ err error }

func (e *urlError) Error() string { return "Get: " + e.err.Error() }
func (e *urlError) Unwrap() error { return e.err }
