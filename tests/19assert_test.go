package tests

// The identity assertion end to end: the gateway signs one per allowed
// request of a route that asks for it, bound to the upstream, method and
// path forwarded; a client's header of that name never passes; the admin
// listener publishes the keys; a new key is published before it signs.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/gateway/assertion/verify"
)

// assertConfig is a gateway with an asserted route (stripping its prefix)
// and a plain one, to up; second, when set, is a second key's not_before.
func assertConfig(up, second string) string {
	keys := "    - {file: keys/a.pem, kid: key-a}\n"
	if second != "" {
		keys += fmt.Sprintf("    - {file: keys/b.pem, kid: key-b, not_before: %q}\n", second)
	}
	return fmt.Sprintf(`
policy:
  bundles: [{name: main, path: bundle}]
identity_assertion:
  issuer: https://gateway.test
  keys:
%s
routes:
  - name: asserted
    match: {path_prefix: /asserted}
    strip_prefix: /asserted
    upstream: %[2]s
    authn: {anonymous: true}
    identity_assertion: {ttl: 30s}
  - name: plain
    match: {path_prefix: /plain}
    upstream: %[2]s
    authn: {anonymous: true}
`, keys, up)
}

func startAssertGateway(t *testing.T, second string) (*gateway, *upstream) {
	t.Helper()
	up := newUpstream(t, "backend")
	g := startGateway(t, gatewayConfig{Body: assertConfig(up.URL, second), Files: allowAllBundle, PreStart: func(dir string) {
		for _, k := range []string{"a", "b"} {
			run(t, binary, "demo", "keys", "--dir", filepath.Join(dir, k))
			if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, k, "assertion-key.pem"), filepath.Join(dir, "keys", k+".pem")); err != nil {
				t.Fatal(err)
			}
		}
	}})
	return g, up
}

// adminJWKS fetches the gateway's key set.
func adminJWKS(t *testing.T, g *gateway) jwk.Set {
	t.Helper()
	resp, err := http.Get(g.admin + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	set, err := jwk.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestAssertionThroughTheGateway(t *testing.T) {
	g, up := startAssertGateway(t, "")
	v, err := verify.New(verify.Options{KeySet: adminJWKS(t, g), Issuer: "https://gateway.test", Audience: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	forged := map[string]string{"X-Portcullis-Assertion": "forged", "X-User-Id": "admin"}

	resp := g.do("DELETE", "/asserted/users/7?x=1", nil, forged)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("DELETE = %d: %s", resp.StatusCode, body)
	}
	decisionID := resp.Header.Get("X-Decision-Id")
	resp = g.do("GET", "/plain/users/7", nil, forged)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("GET /plain = %d: %s", resp.StatusCode, body)
	}
	reqs := up.requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	asserted, plain := reqs[0], reqs[1]
	if vals := asserted.Header.Values("X-Portcullis-Assertion"); len(vals) != 1 || vals[0] == "forged" {
		t.Fatalf("the asserted route's upstream got %q", vals)
	}
	c, err := v.Verify(asserted)
	if err != nil {
		t.Fatalf("the gateway's assertion does not verify: %v", err)
	}
	if c.Method != "DELETE" || c.Path != "/users/7" || c.Authn != "anonymous" || c.Audience != up.URL || c.DecisionID != decisionID {
		t.Fatalf("claims %+v", c)
	}
	if c.Expiry-c.IssuedAt != 30 {
		t.Fatalf("ttl %ds, want 30", c.Expiry-c.IssuedAt)
	}
	// A route without an assertion forwards none, and not the client's either.
	if vals := plain.Header.Values("X-Portcullis-Assertion"); len(vals) != 0 {
		t.Fatalf("the plain route's upstream got %q", vals)
	}
	// The asserted request's assertion, replayed on another path, is refused.
	replay, _ := http.NewRequest("DELETE", up.URL+"/users/8", nil)
	replay.Header.Set("X-Portcullis-Assertion", asserted.Header.Get("X-Portcullis-Assertion"))
	if _, err := v.Verify(replay); err == nil || !strings.Contains(err.Error(), "path") {
		t.Fatalf("replayed for /users/8: %v", err)
	}
}

// kidOf returns the kid of the assertion the upstream received last.
func kidOf(t *testing.T, g *gateway, up *upstream) string {
	t.Helper()
	resp := g.do("GET", "/asserted/x", nil, nil)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("GET = %d: %s", resp.StatusCode, body)
	}
	reqs := up.requests()
	msg, err := jws.ParseString(reqs[len(reqs)-1].Header.Get("X-Portcullis-Assertion"))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

// TestAssertionKeyRotation: a key added with not_before in the future is
// published at once and signs only from then; a reload that moves
// not_before to the past makes it sign.
func TestAssertionKeyRotation(t *testing.T) {
	g, up := startAssertGateway(t, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	set := adminJWKS(t, g)
	if _, ok := set.LookupKeyID("key-b"); !ok || set.Len() != 2 {
		t.Fatalf("JWKS has %d keys, want key-a and key-b", set.Len())
	}
	if kid := kidOf(t, g, up); kid != "key-a" {
		t.Fatalf("signed by %s before key-b's not_before, want key-a", kid)
	}
	before := generationState(t, g)
	cfg := "listen:" + strings.SplitN(strings.SplitN(readFile(t, filepath.Join(g.dir, "portcullis.yaml")), "listen:", 2)[1], "\npolicy:", 2)[0] + "\n" +
		assertConfig(up.URL, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(g.dir, "portcullis.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForGeneration(t, g, before)
	if kid := kidOf(t, g, up); kid != "key-b" {
		t.Fatalf("signed by %s after key-b's not_before, want key-b", kid)
	}
}
