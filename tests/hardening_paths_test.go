package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The policy of the hardening gateway: everything is allowed except the
// admin segment (compared as the gateway sends it: with paths.lowercase,
// lower case), and every query parameter name the policy can see is
// returned as a reason, so the decision log shows what the policy saw.
const pathsPolicy = `package portcullis.authz

default decision := {"allow": false, "reasons": ["admin"]}

decision := {"allow": true, "reasons": [sprintf("query:%s", [k]) | some k, _ in input.request.query]} if {
	not input.request.segments[1] == "admin"
}
`

// hardeningGateway serves, on a TLS listener (HTTP/1.1 and HTTP/2) with
// paths.lowercase: a JWT route whose bearer token comes in the "session"
// cookie (/cookie), the users API in enforce mode (/api/v1), and an
// anonymous route that reads nothing (/plain). The decision log goes to
// decisions.log.
type pathsGateway struct {
	g       *gateway
	up      *upstream
	key     *authnSigner
	clients map[string]*http.Client // "h1", "h2"
	base    string
}

func newPathsGateway(t *testing.T) *pathsGateway {
	t.Helper()
	certs := newTestTLS(t)
	h := &pathsGateway{key: newAuthnSigner(t), up: newUpstream(t, "api")}
	h.g = startGateway(t, gatewayConfig{
		Listen: tlsListen,
		Body: fmt.Sprintf(`
paths: {lowercase: true}
request:
  secret_query_params: [x-custom-secret]
authn:
  jwt:
    issuers:
      - issuer: %s
        keys: [issuer.jwks.json]
        algorithms: [RS256]
        audiences: [e2e]
policy:
  bundles: [{name: main, path: bundle}]
  timeout: 2s
decision_log:
  file: {path: decisions.log}
routes:
  - name: cookie
    match: {path_prefix: /cookie}
    upstream: %[2]s
    authn: {methods: [jwt], bearer_cookie: session}
  - name: users
    match: {path_prefix: /api/v1}
    upstream: %[2]s
    authn: {anonymous: true}
    openapi: {spec: users.yaml}
  - name: plain
    match: {path_prefix: /plain}
    upstream: %[2]s
    authn: {anonymous: true}
`, authnStaticIss, h.up.URL),
		Files: withFiles(certs.files, map[string]string{
			"bundle/.manifest":  `{"revision": "hardening", "roots": ["portcullis"]}`,
			"bundle/authz.rego": pathsPolicy,
			"issuer.jwks.json":  string(authnJWKSBody(t, h.key)),
			"users.yaml":        readFile(t, "../schemas/users.yaml"),
		}),
	})
	cs := certs.clients(t)
	h.clients = map[string]*http.Client{"h1": cs["HTTP/1.1"], "h2": cs["HTTP/2.0"]}
	h.base = strings.Replace(h.g.proxy, "http://", "https://", 1)
	return h
}

// send makes one request; header values are added in order, so a name
// may be given twice.
func (h *pathsGateway) send(t *testing.T, proto, method, target, body string, header [][2]string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.base+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range header {
		req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
	}
	resp, err := h.clients[proto].Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"h1": 1, "h2": 2}[proto]; resp.ProtoMajor != want {
		t.Fatalf("%s: answered over %s", proto, resp.Proto)
	}
	return resp
}

// event waits for the decision-log event of a response.
func (h *pathsGateway) event(t *testing.T, resp *http.Response) dlEvent {
	t.Helper()
	id := resp.Header.Get("X-Decision-Id")
	got := waitEvents(t, "hardening", []string{id}, 10*time.Second, func() []dlEvent {
		return fileEvents(filepath.Join(h.g.dir, "decisions.log"))
	})
	return got[id][0]
}

// since returns the upstream requests after the first n.
func (h *pathsGateway) since(n int) []*http.Request { return h.up.requests()[n:] }

// pathsPortcullis is the event's whole "portcullis" object.
func pathsPortcullis(ev dlEvent) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(ev.raw, &m)
	p, _ := m["portcullis"].(map[string]any)
	return p
}

func TestHardeningPathsDuplicateCookies(t *testing.T) {
	t.Parallel()
	h := newPathsGateway(t)
	for _, proto := range []string{"h1", "h2"} {
		valid := h.key.token(t, authnClaims(t, authnStaticIss, "alice"), nil)
		forged := h.key.token(t, authnClaims(t, "https://forged.example", "root"), nil)
		ambiguous := map[string][][2]string{
			"a space before the equals sign": {{"Cookie", "session=" + valid + "; session =" + forged}},
			"a space after the equals sign":  {{"Cookie", "session=" + valid + "; session= " + forged}},
			"upper case":                     {{"Cookie", "session=" + valid + "; SESSION=" + forged}},
			"title case first":               {{"Cookie", "Session=" + forged + "; session=" + valid}},
			"two Cookie lines":               {{"Cookie", "session=" + valid}, {"Cookie", "theme=dark; session=" + forged}},
			"a quoted value":                 {{"Cookie", `session="` + valid + `"; session=` + forged}},
			"a percent-encoded name":         {{"Cookie", "session=" + valid + "; sess%69on=" + forged}},
			"hidden after a comma":           {{"Cookie", "session=" + valid + "; theme=dark, session=" + forged}},
		}
		for name, hdr := range ambiguous {
			n := len(h.up.requests())
			resp := h.send(t, proto, "GET", "/cookie/x", "", hdr)
			p := decodeProblem(t, resp)
			if resp.StatusCode != 401 || p["reason"] != "credential_ambiguous" {
				t.Errorf("%s %s: %d %v, want 401 credential_ambiguous", proto, name, resp.StatusCode, p)
			}
			if got := h.since(n); len(got) != 0 {
				t.Errorf("%s %s: forwarded with Cookie %q", proto, name, got[0].Header.Values("Cookie"))
			}
		}
		// One credential in any spelling is verified and hidden in every spelling.
		for name, c := range map[string]string{
			"plain":      "theme=dark; session=" + valid + "; lang=en",
			"spaced":     "theme=dark; Session = " + valid + " ; lang=en",
			"upper case": "theme=dark;SESSION=" + valid + ";lang=en",
		} {
			n := len(h.up.requests())
			resp := h.send(t, proto, "GET", "/cookie/x", "", [][2]string{{"Cookie", c}})
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %s", proto, name, resp.StatusCode, body)
			}
			got := h.since(n)
			if len(got) != 1 {
				t.Fatalf("%s %s: %d upstream requests", proto, name, len(got))
			}
			cookies := strings.Join(got[0].Header.Values("Cookie"), "; ")
			if strings.Contains(strings.ToLower(cookies), "session") || strings.Contains(cookies, valid) {
				t.Errorf("%s %s: upstream got Cookie %q", proto, name, cookies)
			}
			if !strings.Contains(cookies, "theme=dark") || !strings.Contains(cookies, "lang=en") {
				t.Errorf("%s %s: other cookies lost: %q", proto, name, cookies)
			}
		}
	}
}

func TestHardeningPathsAmbiguousBodies(t *testing.T) {
	t.Parallel()
	h := newPathsGateway(t)
	jsonCT := [][2]string{{"Content-Type", "application/json"}}
	tests := []struct {
		name, method, target, body string
		header                     [][2]string
		reason                     string
		param                      string // an invalid_params name, if any
	}{
		{"a duplicate member", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com","role":"admin","role":"user"}`, jsonCT, "json_duplicate_key", ""},
		{"an escaped duplicate member", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com","role":"user","r\u006fle":"admin"}`, jsonCT, "json_duplicate_key", ""},
		{"a case-variant duplicate", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com","role":"user","Role":"admin"}`, jsonCT, "json_duplicate_key", ""},
		{"a case variant of a declared property", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com","ROLE":"admin"}`, jsonCT, "validation_failed", ""},
		{"a second document", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com"}` + "\n" + `{"role":"admin"}`, jsonCT, "json_trailing_data", ""},
		{"garbage after the document", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com"}x`, jsonCT, "json_trailing_data", ""},
		{"two Content-Type lines", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com"}`,
			[][2]string{{"Content-Type", "application/json"}, {"Content-Type", "text/plain"}}, "content_type_ambiguous", "Content-Type"},
		{"a Content-Type list", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com"}`,
			[][2]string{{"Content-Type", "application/json, text/plain"}}, "content_type_ambiguous", "Content-Type"},
		{"a scalar query parameter twice", "GET", "/api/v1/users?limit=5&limit=100000", "", nil, "validation_failed", "limit"},
		{"a scalar query parameter in two cases", "GET", "/api/v1/users?limit=5&LIMIT=100000", "", nil, "validation_failed", "limit"},
		{"an enum query parameter twice", "GET", "/api/v1/users?role=user&role=admin", "", nil, "validation_failed", "role"},
	}
	for _, proto := range []string{"h1", "h2"} {
		for _, tc := range tests {
			n := len(h.up.requests())
			resp := h.send(t, proto, tc.method, tc.target, tc.body, tc.header)
			p := decodeProblem(t, resp)
			if resp.StatusCode != 400 || p["reason"] != tc.reason {
				t.Errorf("%s %s: %d %v, want 400 %s", proto, tc.name, resp.StatusCode, p, tc.reason)
				continue
			}
			if tc.param != "" && !slices.Contains(problemParams(p), tc.param) {
				t.Errorf("%s %s: invalid_params %v lack %q", proto, tc.name, p["invalid_params"], tc.param)
			}
			if got := h.since(n); len(got) != 0 {
				t.Errorf("%s %s: forwarded", proto, tc.name)
			}
		}
		// The unambiguous forms pass.
		resp := h.send(t, proto, "POST", "/api/v1/users", `{"name":"a","email":"a@example.com","role":"user"}`, jsonCT)
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("%s: a valid body: %d %s", proto, resp.StatusCode, body)
		}
		resp = h.send(t, proto, "GET", "/api/v1/users?limit=5&role=user", "", nil)
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("%s: a valid query: %d %s", proto, resp.StatusCode, body)
		}
	}
}

func TestHardeningPathsBytes(t *testing.T) {
	t.Parallel()
	h := newPathsGateway(t)
	rejected := map[string]string{
		"/plain/%c0%ae%c0%ae/admin":       "overlong",
		"/plain/%e0%80%ae":                "overlong",
		"/plain/%ed%a0%80":                "surrogate",
		"/plain/%c3":                      "truncated",
		"/plain/%EF%BC%8E%EF%BC%8E/admin": "U+FF0E",
		"/plain%EF%BC%8Fadmin":            "U+FF0F",
		"/plain%E2%88%95admin":            "U+2215",
		"/plain/%E2%80%A4%E2%80%A4/admin": "U+2024",
		"/plain/%EF%B9%92":                "U+FE52",
		"/plain/ad%E2%80%8Bmin":           "U+200B",
		"/plain/%C2%A0admin":              "U+00A0",
		"/plain/%EF%BB%BFadmin":           "U+FEFF",
		"/plain/%E2%80%AEnimda":           "U+202E",
		"/plain/adm%C4%B1n":               "U+0131",
		"/plain/%E2%84%AAey":              "U+212A",
		"/plain/admin%20":                 "U+0020",
	}
	for _, proto := range []string{"h1", "h2"} {
		for target, detail := range rejected {
			n := len(h.up.requests())
			resp := h.send(t, proto, "GET", target, "", nil)
			p := decodeProblem(t, resp)
			if resp.StatusCode != 400 || p["reason"] != "path_rejected" || !strings.Contains(fmt.Sprint(p["detail"]), detail) {
				t.Errorf("%s %s: %d %v, want 400 path_rejected naming %s", proto, target, resp.StatusCode, p, detail)
				continue
			}
			if got := h.since(n); len(got) != 0 {
				t.Errorf("%s %s: forwarded as %s", proto, target, got[0].RequestURI)
			}
			if ev := h.event(t, resp); ev.Portcullis.Status != 400 || !slices.Contains(ev.Portcullis.Reasons, "path_rejected") || ev.Portcullis.Allow {
				t.Errorf("%s %s: event %+v", proto, target, ev.Portcullis)
			}
		}
		// What is forwarded is logged byte for byte as the upstream got it.
		for _, target := range []string{"/plain/caf%C3%A9/%E6%97%A5", "/plain/a!b/(c)*", "/plain/x%3Fy%23z", "/plain/./a/../b"} {
			n := len(h.up.requests())
			resp := h.send(t, proto, "GET", target, "", nil)
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %s", proto, target, resp.StatusCode, body)
			}
			got := h.since(n)
			if len(got) != 1 {
				t.Fatalf("%s %s: %d upstream requests", proto, target, len(got))
			}
			ev := h.event(t, resp)
			if fp, _ := pathsPortcullis(ev)["forwarded_path"].(string); fp != got[0].RequestURI {
				t.Errorf("%s %s: forwarded_path %q, upstream got %q", proto, target, fp, got[0].RequestURI)
			}
		}
	}
}

func TestHardeningPathsLowercase(t *testing.T) {
	t.Parallel()
	h := newPathsGateway(t)
	for _, proto := range []string{"h1", "h2"} {
		// Routed (the route is /plain), judged and forwarded in lower case.
		for _, target := range []string{"/PLAIN/Users/42", "/Plain/USERS/42", "/plain/%55sers/42"} {
			n := len(h.up.requests())
			resp := h.send(t, proto, "GET", target, "", nil)
			if body := readAll(t, resp); resp.StatusCode != 200 || body != "api GET /plain/users/42" {
				t.Fatalf("%s %s: %d %q", proto, target, resp.StatusCode, body)
			}
			got := h.since(n)
			if len(got) != 1 || got[0].RequestURI != "/plain/users/42" {
				t.Fatalf("%s %s: upstream got %v", proto, target, got)
			}
			if ev := h.event(t, resp); ev.Input["request"].(map[string]any)["path"] != "/plain/users/42" {
				t.Errorf("%s %s: the policy saw %v", proto, target, ev.Input["request"])
			}
		}
		// The policy denies /plain/admin in every spelling.
		for _, target := range []string{"/plain/ADMIN", "/PLAIN/Admin/x", "/plain/%41dmin"} {
			n := len(h.up.requests())
			resp := h.send(t, proto, "GET", target, "", nil)
			readAll(t, resp)
			if resp.StatusCode != 401 && resp.StatusCode != 403 {
				t.Errorf("%s %s: %d, want a denial", proto, target, resp.StatusCode)
			}
			if got := h.since(n); len(got) != 0 {
				t.Errorf("%s %s: forwarded as %s", proto, target, got[0].RequestURI)
			}
		}
	}
}

func TestHardeningPathsSecretQuery(t *testing.T) {
	t.Parallel()
	h := newPathsGateway(t)
	secrets := []string{"SECRET-at-1", "SECRET-key-2", "SECRET-custom-3", "SECRET-pw-4", "SECRET-sig-5", "SECRET-tok-6", "SECRET-cs-7"}
	query := "limit=5&access_token=" + secrets[0] + "&Api-Key=" + secrets[1] + "&X_Custom_Secret=" + secrets[2] +
		"&user%5Bpassword%5D=" + secrets[3] + "&X-Amz-Signature=" + secrets[4] + "&githubToken=" + secrets[5] +
		"&clientSecret=" + secrets[6]
	for _, proto := range []string{"h1", "h2"} {
		n := len(h.up.requests())
		resp := h.send(t, proto, "GET", "/plain/report?"+query, "", nil)
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", proto, resp.StatusCode, body)
		}
		// Forwarding is unchanged: the route does not read them.
		if got := h.since(n); len(got) != 1 || got[0].URL.RawQuery != query {
			t.Fatalf("%s: upstream got %v", proto, got)
		}
		ev := h.event(t, resp)
		// The policy saw limit and nothing else (its reasons list the names).
		if want := []string{"allow", "query:limit"}; !slices.Equal(ev.Portcullis.Reasons, want) {
			t.Errorf("%s: reasons %v, want %v", proto, ev.Portcullis.Reasons, want)
		}
		if q := ev.Input["request"].(map[string]any)["query"]; fmt.Sprint(q) != "map[limit:[5]]" {
			t.Errorf("%s: the input's query is %v", proto, q)
		}
	}
	log := readFile(t, filepath.Join(h.g.dir, "decisions.log"))
	for _, s := range secrets {
		if strings.Contains(log, s) || strings.Contains(h.g.stdout.String(), s) || strings.Contains(h.g.stderr.String(), s) {
			t.Errorf("%s reached the decision log or the gateway's output", s)
		}
	}
}
