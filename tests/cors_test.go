package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// edgeKey is the API key of the one consumer of edgeBundle.
const edgeKey = "pk_edge-e2e-0123456789abcdef"

// edgeBundle allows every request and holds one consumer with edgeKey.
func edgeBundle() map[string]string {
	sum := sha256.Sum256([]byte(edgeKey))
	return withFiles(allowAllBundle, map[string]string{
		"bundle/data.json": fmt.Sprintf(`{"portcullis": {"consumers": {"web": {"keys": [{"id": "web-1", "hash": "sha256:%s"}]}}}}`, hex.EncodeToString(sum[:])),
	})
}

// corsUpstream records what reaches it and answers with CORS headers of
// its own, as a backend that once did CORS itself would.
type corsUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path"
}

func newCORSUpstream(t *testing.T) *corsUpstream {
	t.Helper()
	u := &corsUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Method+" "+r.URL.Path)
		u.mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "*")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "up %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *corsUpstream) saw(req string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.seen {
		if s == req {
			return true
		}
	}
	return false
}

func corsGateway(t *testing.T, up string) *gateway {
	return startGateway(t, gatewayConfig{Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
routes:
  - name: api
    match: {path_prefix: /api, methods: [GET, PUT]}
    upstream: %[1]s
    authn: {methods: [api_key]}
    cors:
      allow_origins: ["http://localhost:3000", "https://*.example.com"]
      allow_methods: [GET, PUT]
      allow_headers: [X-Api-Key, Content-Type]
      expose_headers: [X-Request-Id]
      allow_credentials: true
      max_age: 10m
  - name: public
    match: {path_prefix: /public}
    upstream: %[1]s
    authn: {anonymous: true}
    cors: {allow_origins: ["*"]}
  - name: plain
    match: {path_prefix: /plain}
    upstream: %[1]s
    authn: {anonymous: true}
`, up), Files: edgeBundle()})
}

func preflightHeaders(origin, method, headers string) map[string]string {
	h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
	if headers != "" {
		h["Access-Control-Request-Headers"] = headers
	}
	return h
}

func TestCORSPreflightIsAnsweredBeforeAuthentication(t *testing.T) {
	up := newCORSUpstream(t)
	g := corsGateway(t, up.URL)

	// /api needs an API key and takes no OPTIONS: the preflight is routed
	// by the method it asks about and answered without a credential.
	resp := g.do("OPTIONS", "/api/orders", nil, preflightHeaders("http://localhost:3000", "PUT", "x-api-key,content-type"))
	body := readAll(t, resp)
	want := map[string]string{
		"Access-Control-Allow-Origin":      "http://localhost:3000",
		"Access-Control-Allow-Methods":     "GET, PUT",
		"Access-Control-Allow-Headers":     "X-Api-Key, Content-Type",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "600",
		"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
	}
	if resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("preflight: %d %q, want 204", resp.StatusCode, body)
	}
	for k, v := range want {
		if got := strings.Join(resp.Header.Values(k), ", "); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if up.saw("OPTIONS /api/orders") {
		t.Fatal("the preflight reached the upstream")
	}

	for _, tc := range []struct {
		name string
		h    map[string]string
	}{
		{"an origin not listed", preflightHeaders("https://example.com", "PUT", "")},
		{"a suffix attack on the wildcard", preflightHeaders("https://a.example.com.evil.test", "GET", "")},
		{"a method not listed", preflightHeaders("http://localhost:3000", "DELETE", "")},
		{"a header not listed", preflightHeaders("http://localhost:3000", "PUT", "x-api-key,x-debug")},
	} {
		t.Run("a preflight with "+tc.name+" gets 403 cors_rejected without CORS headers", func(t *testing.T) {
			resp := g.do("OPTIONS", "/api/orders", nil, tc.h)
			body := readAll(t, resp)
			// DELETE is not a method of the route: that preflight takes the
			// normal path, and OPTIONS is not one either.
			if tc.h["Access-Control-Request-Method"] == "DELETE" {
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Fatalf("%d %s, want 405", resp.StatusCode, body)
				}
			} else if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"reason":"cors_rejected"`) {
				t.Fatalf("%d %s, want 403 cors_rejected", resp.StatusCode, body)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("a rejected preflight carries %s", k)
				}
			}
		})
	}

	t.Run("an OPTIONS request that is not a preflight takes the normal path", func(t *testing.T) {
		resp := g.do("OPTIONS", "/public/x", nil, map[string]string{"Origin": "http://localhost:3000"})
		if body := readAll(t, resp); resp.StatusCode != 200 || body != "up OPTIONS /public/x" {
			t.Fatalf("%d %q, want the upstream's answer", resp.StatusCode, body)
		}
	})
	t.Run("a preflight on a route without cors takes the normal path", func(t *testing.T) {
		resp := g.do("OPTIONS", "/plain/x", nil, preflightHeaders("http://localhost:3000", "PUT", ""))
		if body := readAll(t, resp); resp.StatusCode != 200 || body != "up OPTIONS /plain/x" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%d %q %v, want the upstream's answer with its own headers", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("the decision log records preflights", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var answered, rejected bool
			for _, ev := range eventsIn(g.stdout.String()) {
				p := ev.Portcullis
				answered = answered || p.Route == "api" && p.Status == 204 && len(p.Reasons) > 0 && p.Reasons[0] == "cors_preflight" && !p.Allow
				rejected = rejected || p.Route == "api" && p.Status == 403 && len(p.Reasons) > 0 && p.Reasons[0] == "cors_rejected"
			}
			if answered && rejected {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no events for the answered (%v) and the rejected (%v) preflight", answered, rejected)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestCORSActualRequests(t *testing.T) {
	up := newCORSUpstream(t)
	g := corsGateway(t, up.URL)
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		status int
		want   map[string]string // "" means absent
	}{
		{"an allowed origin gets its headers, the upstream's are replaced", "/api/a", map[string]string{"Origin": "https://shop.example.com", "X-Api-Key": edgeKey}, 200,
			map[string]string{"Access-Control-Allow-Origin": "https://shop.example.com", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": "X-Request-Id", "Access-Control-Allow-Headers": "", "Vary": "Origin"}},
		{"a disallowed origin gets no CORS headers", "/api/b", map[string]string{"Origin": "https://example.com", "X-Api-Key": edgeKey}, 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Access-Control-Expose-Headers": "", "Vary": "Origin"}},
		{"a request without Origin gets Vary only", "/api/c", map[string]string{"X-Api-Key": edgeKey}, 200,
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"a refused credential still tells an allowed origin why", "/api/d", map[string]string{"Origin": "http://localhost:3000"}, 401,
			map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000", "Vary": "Origin"}},
		{"the wildcard echoes any origin, without credentials", "/public/e", map[string]string{"Origin": "https://anyone.test"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "https://anyone.test", "Access-Control-Allow-Credentials": ""}},
		{"a route without cors passes the upstream's headers", "/plain/f", map[string]string{"Origin": "https://anyone.test"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*", "Vary": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := g.do("GET", tc.path, nil, tc.header)
			body := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.status)
			}
			for k, v := range tc.want {
				if got := strings.Join(resp.Header.Values(k), ", "); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
