package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIPListsRefuseBeforeAuthentication(t *testing.T) {
	up := newCORSUpstream(t)
	g := startGateway(t, gatewayConfig{
		// The test client is 127.0.0.1: as a trusted proxy its
		// X-Forwarded-For names the client.
		Listen: "  trusted_proxies: [127.0.0.1]\n",
		Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
routes:
  - name: office
    match: {path_prefix: /office}
    upstream: %[1]s
    authn: {methods: [api_key]}
    ip_allow: ["10.0.0.0/8", "2001:db8::/32"]
    ip_deny: ["10.6.6.0/24"]
    cors: {allow_origins: ["http://localhost:3000"]}
  - name: open
    match: {path_prefix: /open}
    upstream: %[1]s
    authn: {anonymous: true}
    ip_deny: ["192.0.2.0/24", "127.0.0.1"]
`, up.URL), Files: edgeBundle()})

	for _, tc := range []struct {
		name   string
		path   string
		xff    string
		key    bool
		status int
	}{
		{"an allowed IPv4 client with a key passes", "/office/1", "10.1.2.3", true, 200},
		{"an allowed IPv6 client with a key passes", "/office/2", "2001:db8::7", true, 200},
		{"an IPv4-mapped IPv6 client is compared as IPv4", "/office/3", "::ffff:10.1.2.3", true, 200},
		{"an allowed client without a key reaches authentication", "/office/4", "10.1.2.3", false, 401},
		{"a client outside the allow list is refused though its key is good", "/office/5", "192.168.1.1", true, 403},
		{"a client outside the allow list is refused without a credential check", "/office/6", "2001:db9::1", false, 403},
		{"the deny list is checked first", "/office/7", "10.6.6.6", true, 403},
		{"the peer itself is the client without a forwarded address", "/office/8", "", true, 403},
		{"a client the client wrote left of the real one is not believed", "/office/9", "10.1.2.3, 192.168.1.1", true, 403},
		{"deny alone lets other clients pass", "/open/10", "198.51.100.4", false, 200},
		{"deny alone refuses its own", "/open/11", "192.0.2.99", false, 403},
		{"a single address in the deny list refuses that address", "/open/12", "", false, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.xff != "" {
				h["X-Forwarded-For"] = tc.xff
			}
			if tc.key {
				h["X-Api-Key"] = edgeKey
			}
			resp := g.do("GET", tc.path, nil, h)
			body := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == 403 {
				if !strings.Contains(body, `"reason":"ip_denied"`) {
					t.Fatalf("body %s, want reason ip_denied", body)
				}
				if up.saw("GET " + tc.path) {
					t.Fatal("a refused request reached the upstream")
				}
			}
		})
	}

	t.Run("a preflight from a refused address is refused", func(t *testing.T) {
		h := preflightHeaders("http://localhost:3000", "GET", "")
		h["X-Forwarded-For"] = "192.168.1.1"
		resp := g.do("OPTIONS", "/office/x", nil, h)
		if body := readAll(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "ip_denied") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d %s %v, want 403 ip_denied without CORS headers", resp.StatusCode, body, resp.Header)
		}
	})

	t.Run("the decision log records the refusal with the client address", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, ev := range eventsIn(g.stdout.String()) {
				req, _ := ev.Input["request"].(map[string]any)
				if ev.Portcullis.Route == "office" && ev.Portcullis.Status == 403 && len(ev.Portcullis.Reasons) > 0 &&
					ev.Portcullis.Reasons[0] == "ip_denied" && req["client_ip"] == "2001:db9::1" && ev.Portcullis.Authn == "" {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ip_denied event with client_ip 2001:db9::1 in\n%s", g.stdout.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
