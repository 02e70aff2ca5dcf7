package tests

// End-to-end tests of issue 12, class 11 (keys and tokens) against the real
// binary, over HTTP/1.1 and HTTP/2 (TLS): RSA keys under 2048 bits are left
// out of a JWKS and of key files, counted and logged; a kid dropped by a
// refresh stops a cached token at once; JWTs of another profile (typ) and
// introspected tokens whose token_type is not an access token are 401.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// keysWeakSigner is an RSA signer of bits, below the gateway's floor.
func keysWeakSigner(t *testing.T, bits int) *authnSigner {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return &authnSigner{key: k, kid: fmt.Sprintf("weak-%d-%s", bits, authnRandom(t, 4))}
}

// keysCall sends tok and returns the status and problem reason. The
// clients of testTLS.clients fail a call answered over another protocol.
func keysCall(t *testing.T, c *http.Client, url, tok string) (int, string) {
	t.Helper()
	status, reason, err := authnStatusReason(c, url, tok)
	if err != nil {
		t.Fatal(err)
	}
	return status, reason
}

// keysRoute is the policy and the one route of the tests: /api to
// upstream, authenticated by method.
func keysRoute(upstream, method string) string {
	return fmt.Sprintf(`policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [%s]}
`, upstream, method)
}

// keysThumbprint is the RFC 7638 SHA-256 thumbprint of k's public key.
func keysThumbprint(t *testing.T, k *authnSigner) string {
	t.Helper()
	j := k.jwk()
	b, err := json.Marshal(map[string]any{"e": j["e"], "kty": "RSA", "n": j["n"]}) // keys sorted, no spaces
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return authnB64(sum[:])
}

func keysWant(t *testing.T, what string, status int, reason string, wantStatus int, wantReason string) {
	t.Helper()
	if status != wantStatus || reason != wantReason {
		t.Fatalf("%s: got %d %q, want %d %q", what, status, reason, wantStatus, wantReason)
	}
}

func TestHardeningKeysJWKS(t *testing.T) {
	t.Parallel()
	const (
		remoteIss = "https://remote.keys.e2e.test"
		staticIss = "https://static.keys.e2e.test"
	)
	weak, strong := keysWeakSigner(t, 1024), newAuthnSigner(t)
	jwks := newAuthnJWKSServer(t)
	jwks.setKeys(t, weak, strong)
	staticWeak, staticStrong := keysWeakSigner(t, 1024), newAuthnSigner(t)
	pemOf := func(k *authnSigner) string {
		der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	staticSet := string(authnJWKSBody(t, staticStrong))
	certs := newTestTLS(t)
	tlsFiles, clients := certs.files, certs.clients(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen,
		Body: fmt.Sprintf(`
log: {level: debug}
authn:
  jwt:
    issuers:
      - issuer: %s
        jwks_uri: %s/jwks.json
        algorithms: [RS256]
        audiences: [e2e]
        refresh_interval: 1h
        min_refresh_interval: 1s
      - issuer: %s
        keys: [weak.pem, strong.jwks.json]
        algorithms: [RS256]
        audiences: [e2e]
`, remoteIss, jwks.URL, staticIss) + keysRoute(up.URL, "jwt"),
		Files: withFiles(allowAllBundle, tlsFiles, map[string]string{"weak.pem": pemOf(staticWeak), "strong.jwks.json": staticSet}),
	})
	url := strings.Replace(g.proxy, "http://", "https://", 1) + "/api/x"

	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		c := clients[proto]
		t.Run(proto+": a 1024-bit key beside a 2048-bit one", func(t *testing.T) {
			status, reason := keysCall(t, c, url, strong.token(t, authnClaims(t, remoteIss, "alice"), nil))
			keysWant(t, "the 2048-bit key of the JWKS", status, reason, 200, "")
			status, reason = keysCall(t, c, url, weak.token(t, authnClaims(t, remoteIss, "mallory"), nil))
			keysWant(t, "the 1024-bit key of the JWKS", status, reason, 401, "unknown_kid")
			status, reason = keysCall(t, c, url, staticStrong.token(t, authnClaims(t, staticIss, "alice"), nil))
			keysWant(t, "the 2048-bit key file", status, reason, 200, "")
			// The kid the key file would have given the weak key (its RFC
			// 7638 thumbprint) is unknown.
			status, reason = keysCall(t, c, url, staticWeak.token(t, authnClaims(t, staticIss, "mallory"), map[string]any{"kid": keysThumbprint(t, staticWeak)}))
			keysWant(t, "the 1024-bit key file", status, reason, 401, "unknown_kid")
		})
		t.Run(proto+": a JWT of another profile is refused", func(t *testing.T) {
			for _, typ := range []string{"logout+jwt", "application/secevent+jwt", "DPoP+JWT", "refresh+jwt"} {
				status, reason := keysCall(t, c, url, strong.token(t, authnClaims(t, remoteIss, "alice"), map[string]any{"typ": typ}))
				keysWant(t, "typ "+typ, status, reason, 401, "token_type_not_allowed")
			}
			status, reason := keysCall(t, c, url, strong.token(t, authnClaims(t, remoteIss, "alice"), map[string]any{"typ": "at+jwt"}))
			keysWant(t, "typ at+jwt", status, reason, 200, "")
		})
	}

	t.Run("the refused keys are counted and logged without key material", func(t *testing.T) {
		for _, iss := range []string{remoteIss, staticIss} {
			series := fmt.Sprintf("portcullis_jwks_keys_rejected_total{issuer=%q,reason=\"rsa_too_small\"}", iss)
			if got := authnMetric(t, g, series); got != 1 {
				t.Fatalf("%s = %v, want 1", series, got)
			}
		}
		logs := g.stderr.String()
		var found bool
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "jwks key refused") && strings.Contains(line, weak.kid) {
				found = strings.Contains(line, `"bits":1024`) && strings.Contains(line, remoteIss)
			}
		}
		if !found {
			t.Fatalf("no log line names the refused kid %s with its size and issuer:\n%.2000s", weak.kid, logs)
		}
		if n := weak.jwk()["n"].(string); strings.Contains(logs, n[:32]) {
			t.Fatal("the log holds the refused key's modulus")
		}
	})

	// Each round publishes a fresh key, caches a token of it, replaces it
	// with another key and checks that the cached token stops working as
	// soon as the refresh that dropped its kid has run.
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		c := clients[proto]
		t.Run(proto+": a kid dropped by a refresh stops its cached token at once", func(t *testing.T) {
			retired, next := newAuthnSigner(t), newAuthnSigner(t)
			jwks.setKeys(t, strong, retired)
			tok := retired.token(t, authnClaims(t, remoteIss, "alice"), nil)
			if !authnPoll(10*time.Second, func() bool { s, _ := keysCall(t, c, url, tok); return s == 200 }) {
				t.Fatal("the new key never verified")
			}
			hits := authnMetric(t, g, "portcullis_jwt_cache_hits_total")
			status, reason := keysCall(t, c, url, tok)
			keysWant(t, "the cached token", status, reason, 200, "")
			if authnMetric(t, g, "portcullis_jwt_cache_hits_total") <= hits {
				t.Fatal("the second use was no cache hit: the test would prove nothing")
			}
			jwks.setKeys(t, strong, next) // the leaked key is retired
			// A token of the next key forces the refresh (after the 1s cooldown).
			nextTok := next.token(t, authnClaims(t, remoteIss, "alice"), nil)
			if !authnPoll(10*time.Second, func() bool { s, _ := keysCall(t, c, url, nextTok); return s == 200 }) {
				t.Fatal("the next key never verified")
			}
			status, reason = keysCall(t, c, url, tok)
			keysWant(t, "the cached token of the retired key", status, reason, 401, "unknown_kid")
		})
	}
}

func TestHardeningKeysIntrospectionTokenType(t *testing.T) {
	t.Parallel()
	is := newAuthnIntrospector(t)
	certs := newTestTLS(t)
	tlsFiles, clients := certs.files, certs.clients(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen,
		Body: fmt.Sprintf(`
authn:
  introspection:
    endpoint: %s/introspect
    client_id: %s
    client_secret: ${E2E_INTROSPECTION_SECRET}
`, is.URL, authnClientID) + keysRoute(up.URL, "introspection"),
		Files: withFiles(allowAllBundle, tlsFiles),
		Env:   []string{"E2E_INTROSPECTION_SECRET=" + authnClientSecret},
	})
	url := strings.Replace(g.proxy, "http://", "https://", 1) + "/api/x"
	tests := []struct {
		tokenType  string // "" = absent
		status     int
		wantReason string
	}{
		{tokenType: "", status: 200},
		{tokenType: "access_token", status: 200},
		{tokenType: "Bearer", status: 200},
		{tokenType: "bearer", status: 200},
		{tokenType: "urn:ietf:params:oauth:token-type:access_token", status: 200},
		{tokenType: "refresh_token", status: 401, wantReason: "token_type_not_allowed"},
		{tokenType: "REFRESH_TOKEN", status: 401, wantReason: "token_type_not_allowed"},
		{tokenType: "id_token", status: 401, wantReason: "token_type_not_allowed"},
		{tokenType: "urn:ietf:params:oauth:token-type:refresh_token", status: 401, wantReason: "token_type_not_allowed"},
		{tokenType: "urn:ietf:params:oauth:token-type:id_token", status: 401, wantReason: "token_type_not_allowed"},
	}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s: token_type %q", proto, tc.tokenType), func(t *testing.T) {
				tok := is.activate("opaque-"+authnRandom(t, 16), "alice")
				if tc.tokenType != "" {
					is.mu.Lock()
					is.active[tok]["token_type"] = tc.tokenType
					is.mu.Unlock()
				}
				n := len(up.requests())
				for range 2 { // the second answer comes from the cache
					status, reason := keysCall(t, clients[proto], url, tok)
					keysWant(t, "token_type "+tc.tokenType, status, reason, tc.status, tc.wantReason)
				}
				if tc.status != 200 && len(up.requests()) != n {
					t.Fatal("a refused token reached the upstream")
				}
			})
		}
	}
}
