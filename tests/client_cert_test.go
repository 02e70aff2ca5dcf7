package tests

import (
	"github.com/portcullis/portcullis/internal/testpki"

	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientCert is an issued certificate, ready for a TLS client, with its
// fingerprint and DER in base64 (which must never appear in any output).
type clientCert struct {
	tls         tls.Certificate
	fingerprint string
	b64         string
}

// issueClient signs a client certificate for cn, with DNS and email names
// and the given URIs.
func issueClient(t *testing.T, ca *testpki.CA, cn string, uris ...string) clientCert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:  pkix.Name{CommonName: cn, Organization: []string{"E2E"}},
		DNSNames: []string{cn + ".internal"}, EmailAddresses: []string{cn + "@e2e.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	leaf := ca.Sign(t, tmpl)
	fp := sha256.Sum256(leaf.Cert.Raw)
	return clientCert{
		tls:         leaf.TLS,
		fingerprint: "sha256:" + hex.EncodeToString(fp[:]),
		b64:         base64.StdEncoding.EncodeToString(leaf.Cert.Raw),
	}
}

const certSPIFFE = "spiffe://e2e.test/ns/billing/sa/api"

// certMappings is the bundle data: the pinned certificate by fingerprint
// (unless revoked) and the billing workload by its SPIFFE ID.
func certMappings(t *testing.T, pinned string, revoked bool) string {
	t.Helper()
	m := map[string]any{certSPIFFE: map[string]any{"consumer": "billing", "groups": []string{"services"}}}
	if !revoked {
		m[pinned] = map[string]any{"consumer": "batch"}
	}
	b, err := json.Marshal(map[string]any{"portcullis": map[string]any{"client_certs": m}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// certPolicy allows a client_cert identity only when the input carries its
// certificate's fields; any other identity is allowed.
const certPolicy = `package portcullis.authz

default decision := {"allow": false, "reasons": ["certificate_fields_missing"]}

decision := {"allow": true} if input.identity.method != "client_cert"

decision := {"allow": true} if {
	c := input.identity.certificate
	startswith(c.fingerprint_sha256, "sha256:")
	startswith(c.subject, "CN=")
	startswith(c.issuer, "CN=E2E Client CA ")
	count(c.dns_names) == 1
	count(c.emails) == 1
	time.parse_rfc3339_ns(c.not_after) > time.now_ns()
	c.serial != ""
}
`

// certClients are a client per TLS version and HTTP version, presenting
// cert (none when nil) whenever the gateway asks for one.
func certClients(t *testing.T, pool *x509.CertPool, cert *clientCert) map[string]*http.Client {
	t.Helper()
	out := map[string]*http.Client{}
	for _, v := range []struct {
		name string
		v    uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		cfg := &tls.Config{RootCAs: pool, MinVersion: v.v, MaxVersion: v.v}
		if cert != nil {
			// Sent whatever CAs the gateway names, as a client that does
			// not care would (Go's default sends none that does not match).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.tls, nil }
		}
		h1 := &http.Transport{TLSClientConfig: cfg.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
		h2 := &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true}
		t.Cleanup(h1.CloseIdleConnections)
		t.Cleanup(h2.CloseIdleConnections)
		out[v.name+" HTTP/1.1"] = &http.Client{Transport: protoOnly{h1, "HTTP/1.1"}, Timeout: 10 * time.Second}
		out[v.name+" HTTP/2"] = &http.Client{Transport: protoOnly{h2, "HTTP/2.0"}, Timeout: 10 * time.Second}
	}
	return out
}

func TestClientCertificates(t *testing.T) {
	t.Parallel()
	server := newTestTLS(t)
	caA, caB := testpki.NewCA(t, "E2E Client CA A"), testpki.NewCA(t, "E2E Client CA B")
	pinned := issueClient(t, caA, "batch")
	workload := issueClient(t, caA, "billing", certSPIFFE)
	stranger := issueClient(t, caA, "stranger")
	nextWorkload := issueClient(t, caB, "billing", certSPIFFE)
	signer := newAuthnSigner(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen + "  tls_client_ca_file: clientca.pem\n  client_auth: request\n",
		Body: fmt.Sprintf(`
authn:
  jwt:
    issuers:
      - issuer: %s
        keys: [issuer.jwks.json]
        algorithms: [RS256]
        audiences: [%s]
policy:
  bundles: [{name: main, path: bundle}]
  timeout: 5s
  watch: true
  debounce: 50ms
decision_log:
  file: {path: decisions.ndjson}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [client_cert, jwt]}
`, authnStaticIss, authnAudience, up.URL),
		Files: withFiles(server.files, map[string]string{
			"clientca.pem":      string(caA.PEM),
			"issuer.jwks.json":  string(authnJWKSBody(t, signer)),
			"bundle/.manifest":  `{"revision": "certs", "roots": ["portcullis"]}`,
			"bundle/authz.rego": certPolicy,
			"bundle/data.json":  certMappings(t, pinned.fingerprint, false),
		}),
	})
	base := strings.Replace(g.proxy, "http://", "https://", 1)
	get := func(c *http.Client, hdr map[string]string) (*http.Response, error) {
		req, err := http.NewRequest("GET", base+"/api/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return c.Do(req)
	}
	bearer := func() map[string]string {
		return map[string]string{"Authorization": "Bearer " + signer.token(t, authnClaims(t, authnStaticIss, "alice"), nil)}
	}

	for _, tc := range []struct {
		name     string
		cert     *clientCert
		header   func() map[string]string
		status   int
		reason   string
		consumer string
	}{
		{"a certificate mapped by its fingerprint reaches the upstream as its consumer", &pinned, nil, 200, "", "batch"},
		{"a certificate mapped by its SPIFFE ID reaches the upstream as its consumer", &workload, nil, 200, "", "billing"},
		{"a verified certificate without a mapping gets 401", &stranger, nil, 401, "client_cert_unknown", ""},
		{"without a certificate the route's other method authenticates", nil, bearer, 200, "", ""},
		{"without a certificate or a token the request gets 401", nil, nil, 401, "credential_missing", ""},
		{"a certificate and a token are ambiguous", &pinned, bearer, 401, "credential_ambiguous", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for proto, c := range certClients(t, server.pool, tc.cert) {
				var hdr map[string]string
				if tc.header != nil {
					hdr = tc.header()
				}
				n := len(up.requests())
				resp, err := get(c, hdr)
				if err != nil {
					t.Fatalf("%s: %v", proto, err)
				}
				if tc.status != 200 {
					authnWantProblem(t, resp, tc.status, tc.reason)
					if len(up.requests()) != n {
						t.Fatalf("%s: a refused request reached the upstream", proto)
					}
					continue
				}
				if body := readAll(t, resp); resp.StatusCode != 200 {
					t.Fatalf("%s: got %d: %s", proto, resp.StatusCode, body)
				}
				if got := up.requests()[n].Header.Get("X-Consumer-Username"); got != tc.consumer {
					t.Fatalf("%s: upstream X-Consumer-Username = %q, want %q", proto, got, tc.consumer)
				}
			}
		})
	}

	t.Run("the decision log has the certificate's fields and never the certificate", func(t *testing.T) {
		c := certClients(t, server.pool, &workload)["TLS 1.3 HTTP/2"]
		resp, err := get(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		id := resp.Header.Get("X-Decision-Id")
		var ev dlEvent
		if !authnPoll(5*time.Second, func() bool {
			b, _ := os.ReadFile(filepath.Join(g.dir, "decisions.ndjson"))
			for line := range strings.SplitSeq(string(b), "\n") {
				if strings.Contains(line, id) && json.Unmarshal([]byte(line), &ev) == nil {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("no decision-log event for %s", id)
		}
		ident, _ := ev.Input["identity"].(map[string]any)
		cert, _ := ident["certificate"].(map[string]any)
		if ident["method"] != "client_cert" || ev.Portcullis.Authn != "client_cert" || ev.Portcullis.Consumer != "billing" {
			t.Fatalf("identity %v, portcullis %+v: want client_cert as billing", ident, ev.Portcullis)
		}
		want := map[string]any{
			"subject": "CN=billing,O=E2E", "issuer": "CN=E2E Client CA A", "fingerprint_sha256": workload.fingerprint,
			"serial":    workload.tls.Leaf.SerialNumber.Text(16),
			"dns_names": []any{"billing.internal"}, "uris": []any{certSPIFFE}, "emails": []any{"billing@e2e.test"},
			"not_after": workload.tls.Leaf.NotAfter.UTC().Format(time.RFC3339),
		}
		if fmt.Sprint(cert) != fmt.Sprint(want) {
			t.Fatalf("input.identity.certificate = %v, want %v", cert, want)
		}
		out, _ := os.ReadFile(filepath.Join(g.dir, "decisions.ndjson"))
		all := string(out) + g.stdout.String() + g.stderr.String()
		for _, c := range []clientCert{pinned, workload, stranger} {
			if strings.Contains(all, c.b64[:64]) {
				t.Fatal("a client certificate appears in the gateway's output")
			}
		}
	})

	t.Run("a mapping removed from the bundle data revokes the certificate", func(t *testing.T) {
		c := certClients(t, server.pool, &pinned)["TLS 1.2 HTTP/1.1"]
		resp, err := get(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("before the reload: got %d", resp.StatusCode)
		}
		if err := os.WriteFile(filepath.Join(g.dir, "bundle", "data.json"), []byte(certMappings(t, pinned.fingerprint, true)), 0o644); err != nil {
			t.Fatal(err)
		}
		var last int
		if !authnPoll(10*time.Second, func() bool {
			resp, err := get(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if last = resp.StatusCode; last == 200 {
				readAll(t, resp)
				return false
			}
			authnWantProblem(t, resp, 401, "client_cert_unknown")
			return true
		}) {
			t.Fatalf("the unmapped certificate still gets %d after the reload", last)
		}
		resp, err = get(certClients(t, server.pool, &workload)["TLS 1.2 HTTP/1.1"], nil)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("a certificate still mapped: got %d after the reload", resp.StatusCode)
		}
	})

	t.Run("a rotated CA file is live: the old CA's certificates are refused, the new CA's accepted", func(t *testing.T) {
		// One connection opened under CA A stays open across the rotation.
		conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{RootCAs: server.pool, Certificates: []tls.Certificate{workload.tls}, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		onConn := func() *http.Response {
			if _, err := fmt.Fprintf(conn, "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		if resp := onConn(); readAll(t, resp) == "" || resp.StatusCode != 200 {
			t.Fatalf("before the rotation: got %d", resp.StatusCode)
		}
		if err := os.WriteFile(filepath.Join(g.dir, "clientca.pem"), caB.PEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if !authnPoll(10*time.Second, func() bool {
			resp, err := get(certClients(t, server.pool, &nextWorkload)["TLS 1.3 HTTP/2"], nil)
			if err != nil {
				return false
			}
			readAll(t, resp)
			return resp.StatusCode == 200
		}) {
			t.Fatal("a certificate of the new CA is not accepted after the rotation")
		}
		for proto, c := range certClients(t, server.pool, &workload) {
			if resp, err := get(c, nil); err == nil {
				readAll(t, resp)
				t.Fatalf("%s: a new connection with the old CA's certificate got %d, want a failed handshake", proto, resp.StatusCode)
			}
		}
		authnWantProblem(t, onConn(), 401, "client_cert_untrusted")
	})

	t.Run("client_auth require is live: a connection without a certificate fails its handshake", func(t *testing.T) {
		cfgPath := filepath.Join(g.dir, "portcullis.yaml")
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(b), "client_auth: request", "client_auth: require", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if !authnPoll(10*time.Second, func() bool {
			resp, err := get(certClients(t, server.pool, nil)["TLS 1.3 HTTP/1.1"], bearer())
			if err == nil {
				readAll(t, resp)
			}
			return err != nil
		}) {
			t.Fatal("a client without a certificate is still served under client_auth: require")
		}
		for proto, c := range certClients(t, server.pool, nil) {
			if resp, err := get(c, bearer()); err == nil {
				readAll(t, resp)
				t.Fatalf("%s: no certificate under require got %d, want a failed handshake", proto, resp.StatusCode)
			}
		}
		for proto, c := range certClients(t, server.pool, &nextWorkload) {
			resp, err := get(c, nil)
			if err != nil {
				t.Fatalf("%s: %v", proto, err)
			}
			if readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("%s: a mapped certificate under require got %d", proto, resp.StatusCode)
			}
		}
	})
}
