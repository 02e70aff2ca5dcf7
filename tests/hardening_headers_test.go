package tests

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portcullis/portcullis/gateway/header"
)

// Tests of issue 12, classes 1, 2, 3, 7, 8 and 9 ("one request, one
// meaning"): header names backends fold together, method overrides,
// connection upgrades, the policy judging the header set that is
// forwarded, forwarding headers from untrusted clients and the host. Every
// gateway here terminates TLS, so each test runs over HTTP/1.1 and HTTP/2.

// hdrPolicy allows a request unless it carries X-Deny, and returns the
// policy's input.request in the X-Input response header, so that a test can
// compare what the policy saw with what the upstream got.
var hdrPolicy = map[string]string{
	"bundle/.manifest": `{"revision": "headers", "roots": ["portcullis"]}`,
	"bundle/authz.rego": policyRego(`default allow := false

allow if not input.request.headers["x-deny"]

decision := {"allow": allow, "response_headers": {"X-Input": json.marshal(input.request)}}`),
}

// hdrGateway is a TLS gateway with the routes of these tests:
//
//	/api   jwt or api_key, claims_to_headers sub → X-User-Id, role → X-User-Role
//	/anon  anonymous
//	/ws    anonymous, upgrade: [websocket], to ws
//	/host  anonymous, only for host api.example.com
type hdrGateway struct {
	*gateway
	tls testTLS
	up  *upstream
}

func startHdrGateway(t *testing.T, listen, request string, ws string) *hdrGateway {
	t.Helper()
	certs := newTestTLS(t)
	signer := newAuthnSigner(t)
	up := newUpstream(t, "api")
	if ws == "" {
		ws = up.URL
	}
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen + listen,
		Body: fmt.Sprintf(`
%s
authn:
  jwt:
    issuers:
      - issuer: %s
        keys: [issuer.jwks.json]
        algorithms: [RS256]
        claims_to_headers: {sub: X-User-Id, role: X-User-Role}
policy:
  bundles: [{name: main, path: bundle}]
  timeout: 2s
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %[3]s
    authn: {methods: [jwt, api_key]}
  - name: anon
    match: {path_prefix: /anon}
    upstream: %[3]s
    authn: {anonymous: true}
  - name: ws
    match: {path_prefix: /ws}
    upstream: %[4]s
    authn: {anonymous: true}
    upgrade: [websocket]
  - name: host
    match: {path_prefix: /host, host: api.example.com}
    upstream: %[3]s
    authn: {anonymous: true}
`, request, authnStaticIss, up.URL, ws),
		Files: withFiles(hdrPolicy, certs.files, map[string]string{
			"issuer.jwks.json": string(authnJWKSBody(t, signer)),
			"bundle/data.json": authnConsumers(t, false),
		}),
	})
	return &hdrGateway{gateway: g, tls: certs, up: up}
}

func (g *hdrGateway) base() string { return strings.Replace(g.proxy, "http://", "https://", 1) }

// client is an HTTP/1.1 (h2=false) or HTTP/2 client of the gateway.
func (g *hdrGateway) client(h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.tls.pool}, ForceAttemptHTTP2: h2, DisableCompression: true}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr}
}

// send sends a request whose header names are written exactly as given
// (over HTTP/2 they go lower-cased, as the protocol requires).
func (g *hdrGateway) send(t *testing.T, h2 bool, method, path string, hdr [][2]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.base()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range hdr {
		if kv[0] == "Host" {
			req.Host = kv[1]
			continue
		}
		req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
	}
	resp, err := g.client(h2).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.ProtoMajor == 2 != h2 {
		t.Fatalf("got %s, want h2=%v", resp.Proto, h2)
	}
	return resp, body
}

// hdrInput is the input.request the policy returned in X-Input.
type hdrInput struct {
	Method     string              `json:"method"`
	WireMethod string              `json:"wire_method"`
	Host       string              `json:"host"`
	Port       int                 `json:"port"`
	Query      map[string][]string `json:"query"`
	Headers    map[string]string   `json:"headers"`
}

func policyInput(t *testing.T, resp *http.Response) hdrInput {
	t.Helper()
	var in hdrInput
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Input")), &in); err != nil {
		t.Fatalf("X-Input %q: %v", resp.Header.Get("X-Input"), err)
	}
	return in
}

// last returns the request the upstream received last, failing if it
// received no more than before.
func (u *upstream) last(t *testing.T, before int) *http.Request {
	t.Helper()
	reqs := u.requests()
	if len(reqs) != before+1 {
		t.Fatalf("upstream got %d requests, want %d", len(reqs), before+1)
	}
	return reqs[before]
}

// foldedIn lists the names of h that are name to a CGI-style backend.
func foldedIn(h http.Header, name string) []string {
	var out []string
	for k := range h {
		if header.Equal(k, name) {
			out = append(out, k)
		}
	}
	return out
}

var protocols = []struct {
	name string
	h2   bool
}{{"HTTP/1.1", false}, {"HTTP/2", true}}

// identitySpoofs are spellings of the gateway's identity headers that a
// CGI-style backend reads as the real ones.
var identitySpoofs = [][2]string{
	{"X_User_Id", "admin"}, {"x-user_id", "admin"}, {"X-USER_ID", "admin"}, {"x_user_id", "admin"},
	{"X_User_Role", "admin"}, {"x-user_role", "admin"}, {"X-User-Role", "admin"},
	{"X_Consumer_Username", "root"}, {"x-consumer_username", "root"}, {"X-Consumer-Username", "root"},
}

func TestHardeningHeadersIdentitySpoofing(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"drop", "allow"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			g := startHdrGateway(t, "  headers_with_underscores: "+mode+"\n", "", "")
			for _, p := range protocols {
				t.Run(p.name+" no spelling of an identity header reaches the upstream", func(t *testing.T) {
					for _, path := range []string{"/anon/x", "/api/x"} {
						hdr := slices.Clone(identitySpoofs)
						if path == "/api/x" {
							hdr = append(hdr, [2]string{"X-API-Key", authnKeyNew})
						}
						n := len(g.up.requests())
						resp, body := g.send(t, p.h2, "GET", path, hdr)
						if resp.StatusCode != 200 {
							t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
						}
						got := g.up.last(t, n).Header
						for _, id := range []string{"X-User-Id", "X-User-Role"} {
							if names := foldedIn(got, id); len(names) != 0 {
								t.Errorf("%s: upstream got %v", path, names)
							}
						}
						wantConsumer := []string(nil)
						if path == "/api/x" {
							wantConsumer = []string{"X-Consumer-Username"}
							if v := got.Values("X-Consumer-Username"); !slices.Equal(v, []string{"partner"}) {
								t.Errorf("consumer header %v, want the gateway's", v)
							}
						}
						if names := foldedIn(got, "X-Consumer-Username"); !slices.Equal(names, wantConsumer) {
							t.Errorf("%s: consumer header spellings %v, want %v", path, names, wantConsumer)
						}
						for k := range policyInput(t, resp).Headers {
							if header.Equal(k, "X-User-Id") || header.Equal(k, "X-Consumer-Username") || header.Equal(k, "X-Api-Key") {
								t.Errorf("%s: the policy input has %s", path, k)
							}
						}
					}
				})
				t.Run(p.name+" a second API key as X_API_Key never reaches the upstream", func(t *testing.T) {
					for _, second := range []string{"X_API_Key", "x_api_key", "X-Api_Key"} {
						n := len(g.up.requests())
						resp, body := g.send(t, p.h2, "GET", "/api/x", [][2]string{{"X-API-Key", authnKeyNew}, {second, "pk_forged-second-key"}})
						if mode == "allow" {
							authnWantProblemBody(t, resp.StatusCode, body, 401, "credential_ambiguous")
							if len(g.up.requests()) != n {
								t.Fatal("an ambiguous request was forwarded")
							}
							continue
						}
						if resp.StatusCode != 200 {
							t.Fatalf("%s: %d %s", second, resp.StatusCode, body)
						}
						if names := foldedIn(g.up.last(t, n).Header, "X-Api-Key"); len(names) != 0 {
							t.Errorf("%s: upstream got %v", second, names)
						}
					}
					// Alone, an underscore key is dropped (no credential)
					// or, under allow, verified like any key.
					resp, body := g.send(t, p.h2, "GET", "/api/x", [][2]string{{"X_API_Key", "pk_forged-second-key"}})
					want := map[string]string{"drop": "credential_missing", "allow": "api_key_invalid"}[mode]
					authnWantProblemBody(t, resp.StatusCode, body, 401, want)
				})
			}
		})
	}
}

// authnWantProblemBody checks a problem+json answer already read.
func authnWantProblemBody(t *testing.T, status int, body string, wantStatus int, reason string) {
	t.Helper()
	var p map[string]any
	_ = json.Unmarshal([]byte(body), &p)
	if status != wantStatus || p["reason"] != reason {
		t.Fatalf("got %d %s, want %d %s", status, body, wantStatus, reason)
	}
}

func TestHardeningHeadersUnderscoreReject(t *testing.T) {
	t.Parallel()
	g := startHdrGateway(t, "  headers_with_underscores: reject\n", "", "")
	for _, p := range protocols {
		n := len(g.up.requests())
		resp, body := g.send(t, p.h2, "GET", "/anon/x", [][2]string{{"X_User_Id", "admin"}})
		authnWantProblemBody(t, resp.StatusCode, body, 400, "header_name_rejected")
		if len(g.up.requests()) != n {
			t.Fatalf("%s: a rejected request was forwarded", p.name)
		}
	}
	if v := policyMetric(t, g.gateway, `portcullis_headers_with_underscores_total{action="rejected"}`); v != 2 {
		t.Errorf("rejected counter %v, want 2", v)
	}
}

var overrideHeaders = [][2]string{
	{"X-HTTP-Method-Override", "DELETE"}, {"X-Method-Override", "DELETE"}, {"X-HTTP-Method", "DELETE"},
	{"x-http-method-override", "DELETE"}, {"X_HTTP_Method_Override", "DELETE"},
}

func TestHardeningHeadersMethodOverride(t *testing.T) {
	t.Parallel()
	t.Run("strip by default", func(t *testing.T) {
		t.Parallel()
		g := startHdrGateway(t, "", "", "")
		for _, p := range protocols {
			for _, target := range []string{"/anon/x?keep=1&_method=DELETE", "/anon/x?keep=1&%5Fmethod=DELETE", "/anon/x?keep=1;_method=DELETE&keep=1", "/anon/x?.method=DELETE&keep=1"} {
				n := len(g.up.requests())
				resp, body := g.send(t, p.h2, "POST", target, overrideHeaders)
				if resp.StatusCode != 200 {
					t.Fatalf("%s %s: %d %s", p.name, target, resp.StatusCode, body)
				}
				got := g.up.last(t, n)
				if got.Method != "POST" || strings.Contains(strings.ToLower(got.URL.RawQuery), "method") || !strings.Contains(got.URL.RawQuery, "keep=1") {
					t.Errorf("%s %s: upstream got %s ?%s", p.name, target, got.Method, got.URL.RawQuery)
				}
				for _, h := range header.MethodOverrideHeaders {
					if names := foldedIn(got.Header, h); len(names) != 0 {
						t.Errorf("%s: upstream got %v", p.name, names)
					}
				}
				in := policyInput(t, resp)
				if in.Method != "POST" || in.WireMethod != "POST" || len(in.Query["_method"]) != 0 {
					t.Errorf("%s: policy saw %+v", p.name, in)
				}
				for k := range in.Headers {
					if strings.Contains(k, "override") || k == "x-http-method" {
						t.Errorf("%s: policy saw %s", p.name, k)
					}
				}
			}
		}
	})
	t.Run("reject", func(t *testing.T) {
		t.Parallel()
		g := startHdrGateway(t, "", "request: {method_override: reject}", "")
		for _, p := range protocols {
			for _, tc := range []struct {
				target string
				hdr    [][2]string
			}{{"/anon/x", overrideHeaders[:1]}, {"/anon/x", [][2]string{{"x-method-override", "PUT"}}}, {"/anon/x?_method=DELETE", nil}} {
				resp, body := g.send(t, p.h2, "POST", tc.target, tc.hdr)
				authnWantProblemBody(t, resp.StatusCode, body, 400, "method_override_rejected")
			}
		}
		if len(g.up.requests()) != 0 {
			t.Fatal("a rejected request was forwarded")
		}
	})
	t.Run("judge shows both methods and forwards the override", func(t *testing.T) {
		t.Parallel()
		g := startHdrGateway(t, "", "request: {method_override: judge}", "")
		for _, p := range protocols {
			n := len(g.up.requests())
			resp, body := g.send(t, p.h2, "POST", "/anon/x?_method=delete", [][2]string{{"X-HTTP-Method-Override", "DELETE"}})
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if in := policyInput(t, resp); in.Method != "DELETE" || in.WireMethod != "POST" {
				t.Errorf("%s: policy saw method %q wire_method %q", p.name, in.Method, in.WireMethod)
			}
			got := g.up.last(t, n)
			if got.Method != "POST" || got.Header.Get("X-Http-Method-Override") != "DELETE" || got.URL.RawQuery != "_method=delete" {
				t.Errorf("%s: upstream got %s %v ?%s", p.name, got.Method, got.Header, got.URL.RawQuery)
			}
			resp, body = g.send(t, p.h2, "POST", "/anon/x?_method=PUT", [][2]string{{"X-HTTP-Method-Override", "DELETE"}})
			authnWantProblemBody(t, resp.StatusCode, body, 400, "method_override_invalid")
			resp, _ = g.send(t, p.h2, "GET", "/anon/x", nil)
			if in := policyInput(t, resp); in.Method != "GET" || in.WireMethod != "GET" {
				t.Errorf("%s: without an override the policy saw %q %q", p.name, in.Method, in.WireMethod)
			}
		}
	})
}

// wsUpstream answers a WebSocket handshake with 101 and then echoes what
// it reads; it counts the handshakes it saw.
type wsUpstream struct {
	*httptest.Server
	seen chan http.Header
}

func newWSUpstream(t *testing.T) *wsUpstream {
	t.Helper()
	u := &wsUpstream{seen: make(chan http.Header, 16)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.seen <- r.Header.Clone()
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want a websocket upgrade", 400)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		_ = rw.Flush()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(conn, rw) // echo
	}))
	t.Cleanup(u.Close)
	return u
}

// dial opens a TLS connection to the proxy listener that negotiates proto
// by ALPN; it is closed when the test ends.
func (g *hdrGateway) dial(t *testing.T, proto string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(g.proxy, "http://"), &tls.Config{RootCAs: g.tls.pool, NextProtos: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// handshake sends a WebSocket opening request over HTTP/1.1 and TLS and
// returns the response (its body read) and the connection, left open.
func (g *hdrGateway) handshake(t *testing.T, path string, extra string) (*http.Response, string, *tls.Conn, *bufio.Reader) {
	t.Helper()
	c := g.dial(t, "http/1.1")
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", path, extra)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	body := ""
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body = readAll(t, resp)
	}
	return resp, body, c, br
}

func TestHardeningHeadersUpgrades(t *testing.T) {
	t.Parallel()
	ws := newWSUpstream(t)
	g := startHdrGateway(t, "", "", ws.URL)

	t.Run("a WebSocket upgrade on an opted-in route is judged, then tunnelled", func(t *testing.T) {
		resp, body, c, br := g.handshake(t, "/ws/chat", "")
		if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
			t.Fatalf("got %s %v %s", resp.Status, resp.Header, body)
		}
		if h := <-ws.seen; h.Get("Upgrade") != "websocket" || h.Get("Connection") != "Upgrade" || h.Get("Sec-Websocket-Key") == "" {
			t.Errorf("upstream handshake %v", h)
		}
		if _, err := io.WriteString(c, "ping-frame"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len("ping-frame"))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping-frame" {
			t.Fatalf("echo %q %v", buf, err)
		}
	})
	t.Run("the opening request is judged by the policy", func(t *testing.T) {
		// A deny of an anonymous request is 401 (authenticate and retry).
		resp, body, _, _ := g.handshake(t, "/ws/chat", "X-Deny: 1\r\n")
		if resp.StatusCode != 401 && resp.StatusCode != 403 {
			t.Fatalf("got %s %s", resp.Status, body)
		}
	})
	for _, tc := range []struct{ name, path, extra string }{
		{"an upgrade elsewhere is refused", "/anon/x", ""},
		{"h2c is refused on an opted-in route", "/ws/chat", "Upgrade: h2c\r\n"},
		{"another protocol beside websocket is refused", "/ws/chat", "Upgrade: foo/2\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, _, _ := g.handshake(t, tc.path, tc.extra)
			authnWantProblemBody(t, resp.StatusCode, body, 403, "upgrade_refused")
		})
	}
	t.Run("an h2c upgrade request over plain HTTP/1.1 framing is refused", func(t *testing.T) {
		c := g.dial(t, "http/1.1")
		fmt.Fprint(c, "GET /ws/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		authnWantProblemBody(t, resp.StatusCode, readAll(t, resp), 403, "upgrade_refused")
	})
	for _, p := range protocols {
		t.Run(p.name+" CONNECT is refused", func(t *testing.T) {
			req, err := http.NewRequest("CONNECT", g.base(), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "127.0.0.1:9"
			resp, err := g.client(p.h2).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			authnWantProblemBody(t, resp.StatusCode, readAll(t, resp), 405, "connect_refused")
		})
	}
	select {
	case h := <-ws.seen:
		t.Errorf("a refused upgrade reached the upstream: %v", h)
	default:
	}
}

func TestHardeningHeadersPolicySeesWhatIsForwarded(t *testing.T) {
	t.Parallel()
	g := startHdrGateway(t, "  headers_with_underscores: allow\n", "request: {forwarding_headers: [X-Custom-Client-Addr]}", "")
	spoofs := [][2]string{
		{"X-Tenant", "t1"}, {"X_Tenant", "t2"}, {"X-Keep", "k"}, {"X_Kept_Under", "u"},
		{"X-Forwarded-For", "10.0.0.1"}, {"x_forwarded_for", "10.0.0.2"}, {"X-Forwarded-Host", "admin.internal"},
		{"X-Forwarded-Proto", "http"}, {"Forwarded", "for=10.0.0.1"}, {"X-Real-IP", "10.0.0.1"}, {"X_Real_IP", "10.0.0.1"},
		{"True-Client-IP", "10.0.0.1"}, {"CF-Connecting-IP", "10.0.0.1"}, {"X-Original-URL", "/admin"},
		{"X-Rewrite-URL", "/admin"}, {"X-Forwarded-Prefix", "/admin"}, {"X-Custom-Client-Addr", "10.0.0.1"},
		{"Proxy", "http://evil.example:3128"}, {"X-Request-Id", "not plain!"},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			hdr := spoofs
			if !p.h2 { // connection-specific headers do not exist in HTTP/2
				hdr = append(slices.Clone(spoofs), [2]string{"Connection", "X-Tenant, keep-alive"}, [2]string{"Keep-Alive", "timeout=5"})
			}
			n := len(g.up.requests())
			resp, body := g.send(t, p.h2, "GET", "/anon/x", hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			got := g.up.last(t, n).Header
			upstream := map[string]string{}
			for k, v := range got {
				upstream[strings.ToLower(k)] = strings.Join(v, ", ")
			}
			in := policyInput(t, resp).Headers
			if !mapsEqual(in, upstream) {
				t.Errorf("the policy saw\n%v\nthe upstream got\n%v", in, upstream)
			}
			want := map[string]string{"x-forwarded-for": "127.0.0.1", "x-forwarded-host": "127.0.0.1:" + portOf(g.proxy), "x-forwarded-proto": "https", "x-keep": "k", "x_kept_under": "u"}
			for k, v := range want {
				if upstream[k] != v {
					t.Errorf("upstream %s = %q, want %q", k, upstream[k], v)
				}
			}
			for k := range upstream {
				if header.Equal(k, "X-Real-Ip") || k == "true-client-ip" || k == "forwarded" || k == "x-original-url" || k == "proxy" ||
					k == "x-custom-client-addr" || k == "x-forwarded-prefix" || k == "keep-alive" || (!p.h2 && header.Equal(k, "X-Tenant")) {
					t.Errorf("upstream got %s", k)
				}
			}
			if v := got.Values("X-Request-Id"); len(v) != 1 || v[0] == "not plain!" || v[0] != resp.Header.Get("X-Request-Id") {
				t.Errorf("X-Request-Id %v (response %q)", v, resp.Header.Get("X-Request-Id"))
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(addr, "http://"))
	return p
}

func TestHardeningHeadersHost(t *testing.T) {
	t.Parallel()
	g := startHdrGateway(t, "", "", "")
	for _, p := range protocols {
		t.Run(p.name+" the policy gets the host routing used, and the port", func(t *testing.T) {
			for _, tc := range []struct {
				host, wantForwarded string
				port                int
			}{
				{"API.Example.com.:8443", "api.example.com:8443", 8443},
				{"api.example.com", "api.example.com", 443},
				{"Api.Example.Com.", "api.example.com", 443},
			} {
				n := len(g.up.requests())
				resp, body := g.send(t, p.h2, "GET", "/host/x", [][2]string{{"Host", tc.host}})
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", tc.host, resp.StatusCode, body)
				}
				if in := policyInput(t, resp); in.Host != "api.example.com" || in.Port != tc.port {
					t.Errorf("%s: policy saw host %q port %d", tc.host, in.Host, in.Port)
				}
				if got := g.up.last(t, n).Header.Get("X-Forwarded-Host"); got != tc.wantForwarded {
					t.Errorf("%s: X-Forwarded-Host %q", tc.host, got)
				}
			}
			resp, _ := g.send(t, p.h2, "GET", "/host/x", [][2]string{{"Host", "other.example.com"}})
			if resp.StatusCode != 404 {
				t.Errorf("another host got %d", resp.StatusCode)
			}
		})
	}
	t.Run("HTTP/1.1 a host with userinfo is refused", func(t *testing.T) {
		c := g.dial(t, "http/1.1")
		fmt.Fprint(c, "GET /host/x HTTP/1.1\r\nHost: admin@api.example.com\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 400") {
			t.Fatalf("got %q", b)
		}
	})
	t.Run("HTTP/2 a host header that disagrees with :authority is 400", func(t *testing.T) {
		authority := strings.TrimPrefix(g.proxy, "http://")
		for _, tc := range []struct {
			host   string
			status string
		}{{"evil.example", "400"}, {"127.0.0.1:1", "400"}, {authority, "200"}} {
			status, body := g.h2Raw(t, authority, "/anon/x", tc.host)
			if status != tc.status || tc.status == "400" && !strings.Contains(body, `"host_mismatch"`) {
				t.Errorf("host %q: got %s %s", tc.host, status, body)
			}
		}
	})
}

// h2Raw sends one HTTP/2 GET with both :authority and a host header (Go's
// client never sends the latter) and returns :status and the body.
func (g *hdrGateway) h2Raw(t *testing.T, authority, path, host string) (string, string) {
	t.Helper()
	c := g.dial(t, "h2")
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}, {"host", host}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	var status string
	var body bytes.Buffer
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v (status %q)", err, status)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			if f.StreamEnded() {
				return status, body.String()
			}
		case *http2.DataFrame:
			body.Write(f.Data())
			if f.StreamEnded() {
				return status, body.String()
			}
		case *http2.RSTStreamFrame:
			return "reset " + f.ErrCode.String(), body.String()
		case *http2.GoAwayFrame:
			return "goaway " + f.ErrCode.String(), body.String()
		}
	}
}
