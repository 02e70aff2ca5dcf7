package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Issue 12, class 13: every decision-log event says who asked for what
// (method, path, host, client address), 401 events say which kind of
// credential came where, validation is absent where it did not run, and
// integer claims are written as integers.

const dlogKey = "pk_dlogCompletenessKey0123456789abcdefghij"

// dlogGateway serves, over TLS, an anonymous route without a spec, a
// GET-only route, an API-key route with the users spec and a JWT route,
// with small header and target limits and a file decision log.
func dlogGateway(t *testing.T) (*gateway, map[string]*http.Client, string) {
	t.Helper()
	up := newUpstream(t, "up")
	certs := newTestTLS(t)
	files := withFiles(certs.files, map[string]string{
		"bundle/.manifest":   `{"revision": "dlog", "roots": ["portcullis"]}`,
		"bundle/authz.rego":  "package portcullis.authz\n\ndecision := {\"allow\": true}\n",
		"bundle/data.json":   apiKeyData(dlogKey),
		"schemas/users.yaml": readFile(t, "../schemas/users.yaml"),
	})
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen,
		Env:    []string{"E2E_HMAC=" + hmacSecret},
		Body: fmt.Sprintf(`
limits: {max_headers: 20, max_url_bytes: 2KiB}
authn:
  jwt:
    issuers:
      - issuer: https://issuer.e2e.local
        algorithms: [HS256]
        audiences: [%s]
        secret: ${E2E_HMAC}
policy:
  bundles:
    - {name: main, path: bundle}
decision_log:
  file: {path: decisions.log}
routes:
  - name: public
    match: {path_prefix: /public}
    upstream: %[2]s
    authn: {anonymous: true}
    limits: {max_body_bytes: 1KiB}
  - name: readonly
    match: {path_prefix: /ro, methods: [GET]}
    upstream: %[2]s
    authn: {anonymous: true}
  - name: users
    match: {path_prefix: /api/v1/users}
    upstream: %[2]s
    authn: {methods: [api_key]}
    openapi: {spec: schemas/users.yaml}
  - name: jwt
    match: {path_prefix: /jwt}
    upstream: %[2]s
    authn: {methods: [jwt, api_key]}
`, authnAudience, up.URL),
		Files: files,
	})
	return g, certs.clients(t), filepath.Join(g.dir, "decisions.log")
}

// dlogSend sends one request with its target exactly as given (escapes
// and all) and returns the status and the decision id.
func dlogSend(t *testing.T, c *http.Client, g *gateway, method, target, body string, header map[string]string) (int, string) {
	t.Helper()
	base := strings.Replace(g.proxy, "http://", "https://", 1)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Opaque = target // sent as it is: no re-escaping by the client
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	req.Host = "gw.dlog.test"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	return resp.StatusCode, resp.Header.Get("X-Decision-Id")
}

// dlogRaw decodes the raw line of ev, numbers as json.Number.
func dlogRaw(t *testing.T, ev dlEvent) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(ev.raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHardeningDecisionLogRecordsEveryRefusalsRequest(t *testing.T) {
	g, clients, logPath := dlogGateway(t)
	many := map[string]string{}
	for i := range 30 {
		many[fmt.Sprintf("X-Filler-%d", i)] = "v"
	}
	long := "/public/" + strings.Repeat("a", 3000)
	tests := []struct {
		name, method, target, body string
		header                     map[string]string
		status                     int
		reason                     string
		path                       string // canonical input.request.path, or "" (none)
		raw                        string // portcullis.raw_path (a prefix when cut), or ""
	}{
		{"no route", "GET", "/nowhere/x?token=e2e-query-secret", "", nil, 404, "no_route", "/nowhere/x", ""},
		{"a method the route does not take", "DELETE", "/ro/item", "", nil, 405, "method_not_allowed", "/ro/item", ""},
		{"a target over the limit", "GET", long, "", nil, 414, "uri_too_long", "", long[:2048]},
		{"too many header fields", "GET", "/public/h", "", many, 431, "too_many_headers", "", "/public/h"},
		{"an encoded dot-segment", "GET", "/public/%2e%2e/b", "", nil, 400, "path_rejected", "", "/public/%2e%2e/b"},
		{"an encoded slash", "GET", "/public/a%2Fb?x=1", "", nil, 400, "path_rejected", "", "/public/a%2Fb"},
		{"a body over the limit", "POST", "/public/upload", strings.Repeat("b", 2048), nil, 413, "body_too_large", "/public/upload", ""},
	}
	for proto, c := range clients {
		ids := make([]string, len(tests))
		for i, tc := range tests {
			status, id := dlogSend(t, c, g, tc.method, tc.target, tc.body, tc.header)
			if status != tc.status || id == "" {
				t.Fatalf("%s %s: got %d (decision %q), want %d", proto, tc.name, status, id, tc.status)
			}
			ids[i] = id
		}
		got := waitEvents(t, "file", ids, 15*time.Second, func() []dlEvent { return fileEvents(logPath) })
		for i, tc := range tests {
			t.Run(proto+" "+tc.name, func(t *testing.T) {
				ev := got[ids[i]][0]
				m := dlogRaw(t, ev)
				in, _ := m["input"].(map[string]any)
				req, _ := in["request"].(map[string]any)
				p, _ := m["portcullis"].(map[string]any)
				if req["method"] != tc.method || req["host"] != "gw.dlog.test" || req["scheme"] != "https" {
					t.Fatalf("method, host or scheme missing: %s", ev.raw)
				}
				remote, _ := req["remote_addr"].(string)
				if !strings.HasPrefix(remote, "127.0.0.1:") || m["requested_by"] != remote {
					t.Fatalf("client address missing: %s", ev.raw)
				}
				if path, ok := req["path"]; (tc.path != "") != ok || (ok && path != tc.path) {
					t.Fatalf("input.request.path = %v, want %q: %s", path, tc.path, ev.raw)
				}
				raw, _ := p["raw_path"].(string)
				if raw != tc.raw {
					t.Fatalf("portcullis.raw_path = %.60q…, want %.60q…: %.400s", raw, tc.raw, ev.raw)
				}
				if _, cut := p["raw_path_truncated"]; cut != (len(tc.target) > 2048) {
					t.Fatalf("raw_path_truncated: %.400s", ev.raw)
				}
				if !contains(ev.Portcullis.Reasons, tc.reason) || ev.Portcullis.Status != tc.status {
					t.Fatalf("reason or status: %s", ev.raw)
				}
			})
		}
	}
	if b := readFile(t, logPath); strings.Contains(b, "e2e-query-secret") {
		t.Fatal("a query value reached the decision log")
	}
}

func TestHardeningDecisionLogAuthnAndValidationAndNumbers(t *testing.T) {
	g, clients, logPath := dlogGateway(t)
	claims := authnClaims(t, "https://issuer.e2e.local", "alice")
	claims["big"] = json.Number("123456789012345678901")
	tok := authnJWS(t, map[string]any{"alg": "HS256", "typ": "JWT"}, claims, authnHS256([]byte(hmacSecret)))
	const wrongKey = "pk_dlogWrongKey0123456789abcdefghijklmnop"
	type check func(t *testing.T, m map[string]any, raw []byte)
	credentials := func(want string) check {
		return func(t *testing.T, m map[string]any, raw []byte) {
			p, _ := m["portcullis"].(map[string]any)
			got, _ := json.Marshal(p["credentials"])
			if string(got) != want {
				t.Fatalf("portcullis.credentials = %s, want %s: %s", got, want, raw)
			}
		}
	}
	validation := func(present bool) check {
		return func(t *testing.T, m map[string]any, raw []byte) {
			in, _ := m["input"].(map[string]any)
			v, ok := in["validation"].(map[string]any)
			if ok != present || (ok && v["valid"] != true) {
				t.Fatalf("validation = %v (present %v), want present %v and valid: %s", v, ok, present, raw)
			}
		}
	}
	tests := []struct {
		name, target string
		header       map[string]string
		status       int
		checks       []check
	}{
		{"a bad API key in the header", "/jwt/x", map[string]string{"X-API-Key": wrongKey}, 401,
			[]check{credentials(`[{"kind":"api_key","source":"header"}]`)}},
		{"a malformed Authorization header", "/jwt/x", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401,
			[]check{credentials(`[{"kind":"other","source":"header"}]`)}},
		{"a token and a key at once", "/jwt/x", map[string]string{"Authorization": "Bearer " + tok, "X-API-Key": wrongKey}, 401,
			[]check{credentials(`[{"kind":"bearer","source":"header"},{"kind":"api_key","source":"header"}]`)}},
		{"an anonymous route without a spec", "/public/x", nil, 200, []check{validation(false), credentials("null")}},
		{"a route with a spec", "/api/v1/users", map[string]string{"X-API-Key": dlogKey}, 200, []check{validation(true)}},
		{"a JWT with integer claims", "/jwt/claims", map[string]string{"Authorization": "Bearer " + tok}, 200, []check{
			func(t *testing.T, m map[string]any, raw []byte) {
				for _, name := range []string{"exp", "iat"} {
					want := fmt.Sprintf(`"%s":%d`, name, claims[name])
					if !regexp.MustCompile(regexp.QuoteMeta(want) + `[,}]`).Match(raw) {
						t.Fatalf("the line lacks %s: %s", want, raw)
					}
				}
				if !strings.Contains(string(raw), `"big":123456789012345678901`) || regexp.MustCompile(`[0-9]e\+`).Match(raw) {
					t.Fatalf("claims not written as integers: %s", raw)
				}
			},
			validation(false),
		}},
	}
	for proto, c := range clients {
		ids := make([]string, len(tests))
		for i, tc := range tests {
			status, id := dlogSend(t, c, g, "GET", tc.target, "", tc.header)
			if status != tc.status {
				t.Fatalf("%s %s: got %d, want %d", proto, tc.name, status, tc.status)
			}
			ids[i] = id
		}
		got := waitEvents(t, "file", ids, 15*time.Second, func() []dlEvent { return fileEvents(logPath) })
		for i, tc := range tests {
			t.Run(proto+" "+tc.name, func(t *testing.T) {
				ev := got[ids[i]][0]
				for _, ch := range tc.checks {
					ch(t, dlogRaw(t, ev), ev.raw)
				}
			})
		}
	}
	b := readFile(t, logPath)
	for _, secret := range []string{wrongKey, dlogKey, tok[strings.LastIndexByte(tok, '.')+1:]} {
		if strings.Contains(b, secret) {
			t.Fatal("a credential reached the decision log")
		}
	}
}
