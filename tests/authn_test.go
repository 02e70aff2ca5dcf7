package tests

// End-to-end tests of authentication (issue 3) against the real binary: a
// remote JWKS (stale-if-error, rotation, unknown-kid floods, never fetched),
// RFC 7662 introspection (cache, negative cache, one call for concurrent
// misses, endpoint down, no token in the output), API keys from bundle data
// (expiry, rotation overlap, revocation by reload), identity headers and
// hidden credentials, and the algorithm attacks of the seed.

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// authnAudience is the audience every test issuer requires.
const authnAudience = "e2e"

// authnSigner is an RSA signing key with a kid.
type authnSigner struct {
	key *rsa.PrivateKey
	kid string
}

func newAuthnSigner(t *testing.T) *authnSigner {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &authnSigner{key: k, kid: "kid-" + authnRandom(t, 6)}
}

// jwk is the public key as a JWK.
func (s *authnSigner) jwk() map[string]any {
	return map[string]any{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": s.kid,
		"n": authnB64(s.key.N.Bytes()),
		"e": authnB64(big.NewInt(int64(s.key.E)).Bytes()),
	}
}

// publicPEM is the public key as a PEM "PUBLIC KEY" block: what an attacker
// uses as the HMAC secret in the RS/HS confusion attack.
func (s *authnSigner) publicPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// token mints an RS256 token with header {alg, typ, kid} overridden by
// extra (a nil value removes a field).
func (s *authnSigner) token(t *testing.T, claims, extra map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": "RS256", "typ": "JWT", "kid": s.kid}
	for k, v := range extra {
		if v == nil {
			delete(hdr, k)
		} else {
			hdr[k] = v
		}
	}
	return authnJWS(t, hdr, claims, func(input []byte) ([]byte, error) {
		d := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, d[:])
	})
}

// authnHS256 signs with HMAC-SHA256 under secret.
func authnHS256(secret []byte) func([]byte) ([]byte, error) {
	return func(input []byte) ([]byte, error) {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil), nil
	}
}

// authnJWS returns the compact JWS of header and claims signed by sign (nil:
// an empty signature).
func authnJWS(t *testing.T, header, claims map[string]any, sign func([]byte) ([]byte, error)) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := authnB64(h) + "." + authnB64(p)
	if sign == nil {
		return input + "."
	}
	sig, err := sign([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + authnB64(sig)
}

// authnClaims are valid claims for iss; every call has a fresh jti, so the
// token is new to the gateway's verified-token cache.
func authnClaims(t *testing.T, iss, sub string) map[string]any {
	t.Helper()
	now := time.Now()
	return map[string]any{
		"iss": iss, "sub": sub, "aud": authnAudience, "role": "reader",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": authnRandom(t, 8),
	}
}

func authnB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// authnRandom returns n random bytes in hex.
func authnRandom(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// authnJWKSServer serves a mutable key set on 127.0.0.1 and counts requests.
type authnJWKSServer struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	body []byte
}

func newAuthnJWKSServer(t *testing.T, keys ...*authnSigner) *authnJWKSServer {
	t.Helper()
	s := &authnJWKSServer{}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *authnJWKSServer) setKeys(t *testing.T, keys ...*authnSigner) {
	t.Helper()
	body := authnJWKSBody(t, keys...)
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// authnJWKSBody is the public key set of keys as JSON.
func authnJWKSBody(t *testing.T, keys ...*authnSigner) []byte {
	t.Helper()
	set := map[string][]map[string]any{"keys": {}}
	for _, k := range keys {
		set["keys"] = append(set["keys"], k.jwk())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authnBearer is the header map of a bearer token.
func authnBearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// authnWantProblem checks that resp is a problem with status and reason.
func authnWantProblem(t *testing.T, resp *http.Response, status int, reason string) map[string]any {
	t.Helper()
	p := decodeProblem(t, resp)
	if resp.StatusCode != status || p["reason"] != reason {
		t.Fatalf("got %d reason %v, want %d %s: %v", resp.StatusCode, p["reason"], status, reason, p)
	}
	return p
}

// authnMetric returns the value of the sample line that starts with series
// on the admin /metrics page, or 0 when there is none.
func authnMetric(t *testing.T, g *gateway, series string) float64 {
	t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(readAll(t, resp), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// authnPoll calls f every 50ms until it returns true or d has passed.
func authnPoll(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// authnStatusReason sends a bearer token and returns the status and the
// problem's reason ("" for a non-problem answer).
func authnStatusReason(c *http.Client, url, tok string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var p struct {
		Reason string `json:"reason"`
	}
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			return 0, "", err
		}
	}
	return resp.StatusCode, p.Reason, nil
}

// authnNoSecretsInOutput stops g, which flushes the decision log, and fails
// if any of secrets is in its stdout or stderr. The output must hold the
// decision log (stdout) and a debug line of a rejection (stderr), so the
// search cannot pass on empty output.
func authnNoSecretsInOutput(t *testing.T, g *gateway, secrets []string) {
	t.Helper()
	g.stop()
	stdout, stderr := g.stdout.String(), g.stderr.String()
	if !strings.Contains(stdout, "decision_id") || !strings.Contains(stderr, "request rejected") {
		t.Fatalf("the output lacks the decision log or the debug log; nothing was searched:\nstdout: %.500s\nstderr: %.500s", stdout, stderr)
	}
	for _, secret := range secrets {
		for name, out := range map[string]string{"stdout": stdout, "stderr": stderr} {
			if strings.Contains(out, secret) {
				t.Errorf("%s contains the secret %q", name, secret)
			}
		}
	}
}

const (
	authnRotatingIssuer = "https://rotating.e2e.test"
	authnFloodedIssuer  = "https://flooded.e2e.test"
	authnHMACIssuer     = "internal-hmac"
	authnHMACSecret     = "e2e-hmac-secret-of-at-least-32-bytes!"
)

func TestAuthnJWKSRemote(t *testing.T) {
	t.Parallel()
	rotKey, floodKey := newAuthnSigner(t), newAuthnSigner(t)
	rotJWKS, floodJWKS := newAuthnJWKSServer(t, rotKey), newAuthnJWKSServer(t, floodKey)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
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
        fetch_timeout: 2s
      - issuer: %s
        jwks_uri: %s/jwks.json
        algorithms: [RS256]
        audiences: [e2e]
        refresh_interval: 1h
        min_refresh_interval: 30s
      - issuer: %s
        algorithms: [HS256]
        audiences: [e2e]
        secret: ${E2E_HMAC_SECRET}
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
# A thousand bad tokens from one address is the point of this test, not
# of the credential-stuffing defence (issue 15).
rate_limit: {auth_failures: {enabled: false}}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [jwt]}
`, authnRotatingIssuer, rotJWKS.URL, authnFloodedIssuer, floodJWKS.URL, authnHMACIssuer, up.URL),
		Files: allowAllBundle,
		Env:   []string{"E2E_HMAC_SECRET=" + authnHMACSecret},
	})

	t.Run("tokens signed by keys of the JWKS verify", func(t *testing.T) {
		for _, tok := range []string{
			rotKey.token(t, authnClaims(t, authnRotatingIssuer, "alice"), nil),
			floodKey.token(t, authnClaims(t, authnFloodedIssuer, "bob"), nil),
		} {
			resp := g.do("GET", "/api/x", nil, authnBearer(tok))
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("got %d: %s", resp.StatusCode, body)
			}
		}
	})

	t.Run("a new kid at the key server verifies after one refetch", func(t *testing.T) {
		newKey := newAuthnSigner(t)
		rotJWKS.setKeys(t, rotKey, newKey)
		before := rotJWKS.hits.Load()
		tok := newKey.token(t, authnClaims(t, authnRotatingIssuer, "alice"), nil)
		// Within min_refresh_interval of the last fetch the kid is unknown
		// (401, no fetch); after it, one refetch finds the key.
		var last string
		ok := authnPoll(5*time.Second, func() bool {
			status, reason, err := authnStatusReason(http.DefaultClient, g.proxy+"/api/rotated", tok)
			if err != nil {
				t.Fatal(err)
			}
			last = fmt.Sprintf("%d %s", status, reason)
			if status != 200 && (status != 401 || reason != "unknown_kid") {
				t.Fatalf("during rotation: %s, want 200 or 401 unknown_kid", last)
			}
			return status == 200
		})
		if !ok {
			t.Fatalf("the rotated key never verified; last answer %s", last)
		}
		if n := rotJWKS.hits.Load() - before; n != 1 {
			t.Fatalf("key server fetched %d times during rotation, want 1", n)
		}
		resp := g.do("GET", "/api/x", nil, authnBearer(rotKey.token(t, authnClaims(t, authnRotatingIssuer, "alice"), nil)))
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("the old key of the rotated set: got %d, want 200", resp.StatusCode)
		}
	})

	t.Run("a flood of unknown kids does not flood the key server", func(t *testing.T) {
		const requests, workers = 1000, 32
		before := floodJWKS.hits.Load()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		// The attacker has no key: the signatures are random bytes, as
		// long as real ones.
		fakeSig := func([]byte) ([]byte, error) {
			b := make([]byte, 256)
			_, err := rand.Read(b)
			return b, err
		}
		toks := make(chan string, requests)
		for range requests {
			hdr := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "random-" + authnRandom(t, 8)}
			toks <- authnJWS(t, hdr, authnClaims(t, authnFloodedIssuer, "mallory"), fakeSig)
		}
		close(toks)
		var (
			wg       sync.WaitGroup
			answered atomic.Int64
			mu       sync.Mutex
			bad      []string
		)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for tok := range toks {
					status, reason, err := authnStatusReason(client, g.proxy+"/api/flood", tok)
					if err == nil && status == 401 && reason == "unknown_kid" {
						answered.Add(1)
						continue
					}
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d %s %v", status, reason, err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(bad) > 0 {
			t.Fatalf("%d of %d requests were not 401 unknown_kid, e.g. %s", len(bad), requests, bad[0])
		}
		if answered.Load() != requests {
			t.Fatalf("answered %d, want %d", answered.Load(), requests)
		}
		if n := floodJWKS.hits.Load() - before; n > 2 {
			t.Fatalf("the flood caused %d key-server fetches, want at most 2", n)
		}
	})

	t.Run("the seed's algorithm attacks get 401 with distinct reasons", func(t *testing.T) {
		attacker := newAuthnSigner(t)
		jku := newAuthnJWKSServer(t, attacker)
		claims := func() map[string]any { return authnClaims(t, authnRotatingIssuer, "admin") }
		noneHeader := func(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "JWT", "kid": rotKey.kid} }
		hsHeader := map[string]any{"alg": "HS256", "typ": "JWT", "kid": rotKey.kid}
		tests := []struct {
			name, token, reason string
		}{
			{"alg none with an empty signature", authnJWS(t, noneHeader("none"), claims(), nil), "alg_none"},
			{"alg None in another casing", authnJWS(t, noneHeader("None"), claims(), nil), "alg_none"},
			{"alg NONE with a signature", rotKey.token(t, claims(), map[string]any{"alg": "NONE"}), "alg_none"},
			{"HS256 signed with the issuer's RSA public key", authnJWS(t, hsHeader, claims(), authnHS256(rotKey.publicPEM(t))), "key_alg_mismatch"},
			{"HS256 signed with the RSA public key as JWK JSON", authnJWS(t, hsHeader, claims(), authnHS256(authnJWKSBody(t, rotKey))), "key_alg_mismatch"},
			{"an embedded jwk header with the issuer's kid", attacker.token(t, claims(), map[string]any{"kid": rotKey.kid, "jwk": attacker.jwk()}), "bad_signature"},
			{"an embedded jwk header naming its own kid", attacker.token(t, claims(), map[string]any{"jwk": attacker.jwk()}), "unknown_kid"},
			{"a jku header pointing at the attacker's key set", attacker.token(t, claims(), map[string]any{"kid": rotKey.kid, "jku": jku.URL + "/jwks.json"}), "bad_signature"},
			{"an x5u header pointing at the attacker", attacker.token(t, claims(), map[string]any{"kid": rotKey.kid, "x5u": jku.URL + "/cert.pem"}), "bad_signature"},
		}
		reasons := map[string]bool{}
		for _, tc := range tests {
			n := len(up.requests())
			resp := g.do("GET", "/api/admin", nil, authnBearer(tc.token))
			authnWantProblem(t, resp, 401, tc.reason)
			if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
				t.Fatalf("%s: WWW-Authenticate = %q", tc.name, h)
			}
			if len(up.requests()) != n {
				t.Fatalf("%s reached the upstream", tc.name)
			}
			reasons[tc.reason] = true
		}
		if len(reasons) != 4 {
			t.Fatalf("reasons %v, want alg_none, key_alg_mismatch, bad_signature and unknown_kid", reasons)
		}
		if n := jku.hits.Load(); n != 0 {
			t.Fatalf("the gateway fetched the token's jku/x5u %d times", n)
		}
		// HS256 itself is allowed (for the HMAC issuer), so the mismatch
		// above comes from pinning per issuer, not from a global allow-list.
		hs := authnJWS(t, map[string]any{"alg": "HS256", "typ": "JWT"}, authnClaims(t, authnHMACIssuer, "svc"), authnHS256([]byte(authnHMACSecret)))
		resp := g.do("GET", "/api/x", nil, authnBearer(hs))
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("a valid HS256 token of the HMAC issuer: got %d, want 200", resp.StatusCode)
		}
	})

	t.Run("tokens still verify after the key server goes down", func(t *testing.T) {
		failures := fmt.Sprintf("portcullis_jwks_fetch_failures_total{issuer=%q}", authnRotatingIssuer)
		before := authnMetric(t, g, failures)
		rotJWKS.Close()
		// An unknown kid forces a refetch (after the cooldown), which fails.
		ok := authnPoll(5*time.Second, func() bool {
			tok := rotKey.token(t, authnClaims(t, authnRotatingIssuer, "alice"), map[string]any{"kid": "unknown-" + authnRandom(t, 4)})
			authnWantProblem(t, g.do("GET", "/api/x", nil, authnBearer(tok)), 401, "unknown_kid")
			return authnMetric(t, g, failures) > before
		})
		if !ok {
			t.Fatal("no failed fetch of the closed key server was counted")
		}
		resp := g.do("GET", "/api/x", nil, authnBearer(rotKey.token(t, authnClaims(t, authnRotatingIssuer, "alice"), nil)))
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("a fresh token with a known kid while the key server is down: got %d, want 200: %s", resp.StatusCode, body)
		}
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("/readyz = %d with a stale but usable key set, want 200", resp.StatusCode)
		}
	})
}

func TestAuthnJWKSNeverFetched(t *testing.T) {
	t.Parallel()
	key := newAuthnSigner(t)
	up := newUpstream(t, "api")
	// Nothing listens on the key server's address, from the start.
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
authn:
  jwt:
    issuers:
      - issuer: %s
        jwks_uri: http://%s/jwks.json
        algorithms: [RS256]
        audiences: [e2e]
        min_refresh_interval: 1s
        fetch_timeout: 1s
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [jwt]}
`, authnRotatingIssuer, freeAddr(t), up.URL),
		Files:  allowAllBundle,
		NoWait: true,
	})
	readyz := func() int {
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			return 0
		}
		readAll(t, resp)
		return resp.StatusCode
	}
	var status int
	if !authnPoll(15*time.Second, func() bool { status = readyz(); return status != 0 }) {
		t.Fatalf("the admin listener never answered:\n%s", g.stderr.String())
	}
	if status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d without any key, want 503", status)
	}
	tok := key.token(t, authnClaims(t, authnRotatingIssuer, "alice"), nil)
	var resp *http.Response
	if !authnPoll(15*time.Second, func() bool {
		req, _ := http.NewRequest("GET", g.proxy+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		var err error
		resp, err = http.DefaultClient.Do(req)
		return err == nil
	}) {
		t.Fatal("the proxy listener never answered")
	}
	authnWantProblem(t, resp, http.StatusServiceUnavailable, "jwks_unavailable")
	if len(up.requests()) != 0 {
		t.Fatal("a request reached the upstream without any key")
	}
	if status := readyz(); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d after the token, want 503", status)
	}
}

func TestAuthnJWKSFallbackAndMaxStale(t *testing.T) {
	t.Parallel()
	const staleIss, fallbackIss = "https://stale.e2e.test", "https://fallback.e2e.test"
	staleKey, fallbackKey := newAuthnSigner(t), newAuthnSigner(t)
	staleJWKS := newAuthnJWKSServer(t, staleKey)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
authn:
  jwt:
    issuers:
      - issuer: %s
        jwks_uri: %s/jwks.json
        algorithms: [RS256]
        audiences: [e2e]
        refresh_interval: 1h
        min_refresh_interval: 1s
        max_stale: 2s
        fetch_timeout: 1s
      - issuer: %s
        jwks_uri: http://%s/jwks.json
        keys: [fallback.jwks.json]
        algorithms: [RS256]
        audiences: [e2e]
        min_refresh_interval: 1s
        fetch_timeout: 1s
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [jwt]}
`, staleIss, staleJWKS.URL, fallbackIss, freeAddr(t), up.URL),
		Files: withFiles(allowAllBundle, map[string]string{"fallback.jwks.json": string(authnJWKSBody(t, fallbackKey))}),
	})

	t.Run("fallback keys verify while the key server has never answered", func(t *testing.T) {
		resp := g.do("GET", "/api/x", nil, authnBearer(fallbackKey.token(t, authnClaims(t, fallbackIss, "alice"), nil)))
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("got %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("a key set older than max_stale is unusable: 503 and not ready, never 401", func(t *testing.T) {
		staleJWKS.Close()
		var last string
		ok := authnPoll(10*time.Second, func() bool {
			tok := staleKey.token(t, authnClaims(t, staleIss, "alice"), nil)
			status, reason, err := authnStatusReason(http.DefaultClient, g.proxy+"/api/x", tok)
			if err != nil {
				t.Fatal(err)
			}
			last = fmt.Sprintf("%d %s", status, reason)
			if status != 200 && status != 503 {
				t.Fatalf("while the key set ages: %s, want 200 or 503", last)
			}
			return status == 503 && reason == "jwks_unavailable"
		})
		if !ok {
			t.Fatalf("the stale key set was still used 10s after the key server went down (max_stale 2s); last %s", last)
		}
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d without a usable key set, want 503", resp.StatusCode)
		}
	})
}

// authnIntrospector is an RFC 7662 endpoint on 127.0.0.1 that counts calls
// per token. Tokens it does not know are inactive.
type authnIntrospector struct {
	*httptest.Server
	mu     sync.Mutex
	active map[string]map[string]any
	calls  map[string]int
	bad    []string // requests that broke the protocol
	delay  time.Duration
}

const (
	authnClientID     = "portcullis-e2e"
	authnClientSecret = "introspection-client-secret-e2e"
)

func newAuthnIntrospector(t *testing.T) *authnIntrospector {
	t.Helper()
	s := &authnIntrospector{active: map[string]map[string]any{}, calls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *authnIntrospector) serve(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if r.Method != http.MethodPost || !ok || id != authnClientID || secret != authnClientSecret || r.ParseForm() != nil {
		s.mu.Lock()
		s.bad = append(s.bad, fmt.Sprintf("%s basic=%v id=%q", r.Method, ok, id))
		s.mu.Unlock()
		http.Error(w, "bad client", http.StatusUnauthorized)
		return
	}
	tok := r.PostForm.Get("token")
	s.mu.Lock()
	s.calls[tok]++
	resp, delay := s.active[tok], s.delay
	if r.PostForm.Get("token_type_hint") != "access_token" {
		s.bad = append(s.bad, "token_type_hint="+r.PostForm.Get("token_type_hint"))
	}
	s.mu.Unlock()
	if resp == nil {
		resp = map[string]any{"active": false}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// activate makes tok an active token of sub and returns it.
func (s *authnIntrospector) activate(tok, sub string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[tok] = map[string]any{
		"active": true, "sub": sub, "client_id": "app", "scope": "read write",
		"exp": time.Now().Add(10 * time.Minute).Unix(),
	}
	return tok
}

func (s *authnIntrospector) callsFor(tok string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[tok]
}

func (s *authnIntrospector) setDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

func TestAuthnIntrospection(t *testing.T) {
	t.Parallel()
	is := newAuthnIntrospector(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
log: {level: debug}
authn:
  introspection:
    endpoint: %s/introspect
    client_id: %s
    client_secret: ${E2E_INTROSPECTION_SECRET}
    timeout: 2s
    cache_ttl: 60s
    negative_ttl: 30s
    claims_to_headers: {sub: X-User-Id}
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [introspection]}
`, is.URL, authnClientID, up.URL),
		Files: allowAllBundle,
		Env:   []string{"E2E_INTROSPECTION_SECRET=" + authnClientSecret},
	})
	var (
		tokMu  sync.Mutex
		tokens []string // every token sent, searched for in the output
	)
	newToken := func() string {
		tok := "opaque-" + authnRandom(t, 16)
		tokMu.Lock()
		tokens = append(tokens, tok)
		tokMu.Unlock()
		return tok
	}

	t.Run("an active opaque token is accepted", func(t *testing.T) {
		tok := is.activate(newToken(), "alice")
		n := len(up.requests())
		resp := g.do("GET", "/api/x", nil, authnBearer(tok))
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("got %d: %s", resp.StatusCode, body)
		}
		got := up.requests()[n]
		if got.Header.Get("X-User-Id") != "alice" || got.Header.Get("Authorization") != "" {
			t.Fatalf("upstream saw X-User-Id=%q Authorization=%q", got.Header.Get("X-User-Id"), got.Header.Get("Authorization"))
		}
	})

	t.Run("a second request with the same token is served from the cache", func(t *testing.T) {
		tok := is.activate(newToken(), "bob")
		for range 2 {
			resp := g.do("GET", "/api/x", nil, authnBearer(tok))
			if readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("got %d", resp.StatusCode)
			}
		}
		if n := is.callsFor(tok); n != 1 {
			t.Fatalf("introspection calls = %d, want 1", n)
		}
	})

	t.Run("an inactive token is rejected and the rejection is cached", func(t *testing.T) {
		tok := newToken()
		n := len(up.requests())
		for range 2 {
			resp := g.do("GET", "/api/x", nil, authnBearer(tok))
			authnWantProblem(t, resp, 401, "token_inactive")
			if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate = %q", h)
			}
		}
		if c := is.callsFor(tok); c != 1 {
			t.Fatalf("introspection calls = %d, want 1", c)
		}
		if len(up.requests()) != n {
			t.Fatal("an inactive token reached the upstream")
		}
	})

	t.Run("concurrent requests with one new token make one call", func(t *testing.T) {
		// A slow endpoint keeps the first call in flight while the others
		// arrive; the count holds whether they join it or hit the cache.
		is.setDelay(300 * time.Millisecond)
		defer is.setDelay(0)
		tok := is.activate(newToken(), "carol")
		const n = 100
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		var wg sync.WaitGroup
		errs := make(chan string, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, reason, err := authnStatusReason(client, g.proxy+"/api/concurrent", tok)
				if err != nil || status != 200 {
					errs <- fmt.Sprintf("%d %s %v", status, reason, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("a concurrent request got %s, want 200", e)
		}
		if c := is.callsFor(tok); c != 1 {
			t.Fatalf("introspection calls = %d for %d concurrent requests, want 1", c, n)
		}
	})

	t.Run("the endpoint down is a 503 with Retry-After, never an allow", func(t *testing.T) {
		cached := is.activate(newToken(), "dave")
		resp := g.do("GET", "/api/x", nil, authnBearer(cached))
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
		is.Close()
		n := len(up.requests())
		resp = g.do("GET", "/api/x", nil, authnBearer(is.activate(newToken(), "eve")))
		authnWantProblem(t, resp, http.StatusServiceUnavailable, "introspection_unavailable")
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After on the 503")
		}
		if len(up.requests()) != n {
			t.Fatal("a request reached the upstream while the endpoint was down")
		}
		resp = g.do("GET", "/api/x", nil, authnBearer(cached))
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("a cached active token while the endpoint is down: got %d, want 200", resp.StatusCode)
		}
	})

	t.Run("the endpoint saw only well-formed client-authenticated calls", func(t *testing.T) {
		is.mu.Lock()
		defer is.mu.Unlock()
		if len(is.bad) > 0 {
			t.Fatalf("bad introspection requests: %v", is.bad)
		}
	})

	t.Run("no token or client secret appears in the gateway's output", func(t *testing.T) {
		tokMu.Lock()
		defer tokMu.Unlock()
		authnNoSecretsInOutput(t, g, append([]string{authnClientSecret}, tokens...))
	})
}

// authnConsumers is the bundle data of the API-key test: a partner with two
// overlapping keys, an expired key, a key not valid yet and one that the
// test revokes by rewriting the data.
func authnConsumers(t *testing.T, withRevoked bool) string {
	t.Helper()
	h := func(key string) string {
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	consumers := map[string]any{
		"partner": map[string]any{"groups": []string{"read-access"}, "keys": []map[string]any{
			{"id": "partner-old", "hash": h(authnKeyOld), "expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)},
			{"id": "partner-new", "hash": h(authnKeyNew)},
		}},
		"lapsed": map[string]any{"keys": []map[string]any{
			{"id": "lapsed-1", "hash": h(authnKeyExpired), "expires_at": "2020-01-01T00:00:00Z"},
		}},
		"early": map[string]any{"keys": []map[string]any{
			{"id": "early-1", "hash": h(authnKeyEarly), "not_before": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)},
		}},
	}
	if withRevoked {
		consumers["leaver"] = map[string]any{"keys": []map[string]any{{"id": "leaver-1", "hash": h(authnKeyRevoked)}}}
	}
	b, err := json.Marshal(map[string]any{"portcullis": map[string]any{"consumers": consumers}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	authnKeyOld     = "pk_partner-old-key-e2e-0123456789"
	authnKeyNew     = "pk_partner-new-key-e2e-9876543210"
	authnKeyExpired = "pk_lapsed-key-e2e-expired"
	authnKeyEarly   = "pk_early-key-e2e-not-yet"
	authnKeyRevoked = "pk_leaver-key-e2e-revoked"
	authnStaticIss  = "https://static.e2e.test"
)

// authnHeadersGateway serves /api (jwt or api_key), /query (jwt, also in
// the access_token query parameter) and /anon (anonymous), with
// claims_to_headers sub → X-User-Id and role → X-User-Role, and consumers
// in the bundle.
func authnHeadersGateway(t *testing.T) (*gateway, *upstream, *authnSigner) {
	t.Helper()
	key := newAuthnSigner(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
log: {level: debug}
authn:
  jwt:
    issuers:
      - issuer: %s
        keys: [issuer.jwks.json]
        algorithms: [RS256]
        audiences: [e2e]
        claims_to_headers: {sub: X-User-Id, role: X-User-Role}
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
  watch: true
  debounce: 50ms
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %[2]s
    authn: {methods: [jwt, api_key]}
  - name: query
    match: {path_prefix: /query}
    upstream: %[2]s
    authn: {methods: [jwt], bearer_query: access_token}
  - name: anon
    match: {path_prefix: /anon}
    upstream: %[2]s
    authn: {anonymous: true}
`, authnStaticIss, up.URL),
		Files: withFiles(allowAllBundle, map[string]string{
			"issuer.jwks.json": string(authnJWKSBody(t, key)),
			"bundle/data.json": authnConsumers(t, true),
		}),
	})
	return g, up, key
}

func TestAuthnAPIKeys(t *testing.T) {
	t.Parallel()
	g, up, _ := authnHeadersGateway(t)
	key := func(k string) map[string]string { return map[string]string{"X-API-Key": k} }

	tests := []struct {
		name, key string
		status    int
		reason    string
	}{
		{"the current key of a consumer is accepted", authnKeyNew, 200, ""},
		{"the previous key is accepted during the rotation overlap", authnKeyOld, 200, ""},
		{"a key past its expires_at is rejected", authnKeyExpired, 401, "api_key_expired"},
		{"a key before its not_before is rejected", authnKeyEarly, 401, "api_key_not_yet_valid"},
		{"an unknown key is rejected", "pk_nobody-knows-this-key", 401, "api_key_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			resp := g.do("GET", "/api/x", nil, key(tc.key))
			if tc.status != 200 {
				authnWantProblem(t, resp, tc.status, tc.reason)
				if len(up.requests()) != n {
					t.Fatal("a rejected key reached the upstream")
				}
				return
			}
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("got %d: %s", resp.StatusCode, body)
			}
			got := up.requests()[n]
			if c := got.Header.Get("X-Consumer-Username"); c != "partner" {
				t.Fatalf("upstream X-Consumer-Username = %q, want partner", c)
			}
		})
	}

	t.Run("a key removed from the bundle data is revoked by the reload", func(t *testing.T) {
		resp := g.do("GET", "/api/x", nil, key(authnKeyRevoked))
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("before the reload: got %d, want 200", resp.StatusCode)
		}
		if err := os.WriteFile(filepath.Join(g.dir, "bundle", "data.json"), []byte(authnConsumers(t, false)), 0o644); err != nil {
			t.Fatal(err)
		}
		var last int
		ok := authnPoll(5*time.Second, func() bool {
			resp := g.do("GET", "/api/x", nil, key(authnKeyRevoked))
			last = resp.StatusCode
			if last == 200 {
				readAll(t, resp)
				return false
			}
			authnWantProblem(t, resp, 401, "api_key_invalid")
			return true
		})
		if !ok {
			t.Fatalf("the removed key still gets %d 5s after the rewrite", last)
		}
		resp = g.do("GET", "/api/x", nil, key(authnKeyNew))
		if readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("a key still in the data after the reload: got %d, want 200", resp.StatusCode)
		}
	})
	t.Run("no API key appears in the gateway's output", func(t *testing.T) {
		authnNoSecretsInOutput(t, g, []string{authnKeyOld, authnKeyNew, authnKeyExpired, authnKeyEarly, authnKeyRevoked, "pk_nobody-knows-this-key"})
	})
}

func TestAuthnIdentityHeadersAndHiddenCredentials(t *testing.T) {
	t.Parallel()
	g, up, key := authnHeadersGateway(t)
	spoofed := map[string]string{"X-User-Id": "admin", "X-User-Role": "superuser", "X-Consumer-Username": "internal-service"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range []map[string]string{spoofed, extra} {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	var tokens []string // every token sent, searched for in the output
	token := func() string {
		tok := key.token(t, authnClaims(t, authnStaticIss, "alice"), nil)
		tokens = append(tokens, tok)
		return tok
	}

	tests := []struct {
		name   string
		path   string
		header map[string]string
		// want are the identity headers the upstream must see ("" = absent).
		want map[string]string
		// query is the raw query the upstream must see.
		query string
	}{
		{"spoofed identity headers on an anonymous route are removed", "/anon/x?a=1", with(nil),
			map[string]string{"X-User-Id": "", "X-User-Role": "", "X-Consumer-Username": ""}, "a=1"},
		{"a JWT's claims replace spoofed identity headers and the token is hidden", "/api/x", with(authnBearer(token())),
			map[string]string{"X-User-Id": "alice", "X-User-Role": "reader", "X-Consumer-Username": ""}, ""},
		{"an API key's consumer replaces spoofed headers and the key is hidden", "/api/x", with(map[string]string{"X-API-Key": authnKeyNew}),
			map[string]string{"X-User-Id": "", "X-User-Role": "", "X-Consumer-Username": "partner"}, ""},
		{"a token in the query is accepted and removed from the query", "/query/x?keep=1&access_token=" + token() + "&also=2", with(nil),
			map[string]string{"X-User-Id": "alice", "X-User-Role": "reader", "X-Consumer-Username": ""}, "keep=1&also=2"},
		{"a token in the query under a percent-encoded name is removed", "/query/x?keep=1&access%5Ftoken=" + token(), with(nil),
			map[string]string{"X-User-Id": "alice", "X-User-Role": "reader", "X-Consumer-Username": ""}, "keep=1"},
		{"Connection naming an identity header does not strip the gateway's value", "/api/x",
			with(map[string]string{"Authorization": "Bearer " + token(), "Connection": "X-User-Id, X-User-Role"}),
			map[string]string{"X-User-Id": "alice", "X-User-Role": "reader", "X-Consumer-Username": ""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(up.requests())
			resp := g.do("GET", tc.path, nil, tc.header)
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("got %d: %s", resp.StatusCode, body)
			}
			reqs := up.requests()[n:]
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			for h, want := range tc.want {
				if v := got.Header.Values(h); strings.Join(v, ",") != want {
					t.Errorf("upstream %s = %q, want %q", h, v, want)
				}
			}
			for _, h := range []string{"Authorization", "X-Api-Key"} {
				if v := got.Header.Get(h); v != "" {
					t.Errorf("upstream saw %s = %q", h, v)
				}
			}
			if got.URL.RawQuery != tc.query {
				t.Errorf("upstream query = %q, want %q", got.URL.RawQuery, tc.query)
			}
		})
	}

	t.Run("spoofed identity headers in any casing or repeated never reach the upstream", func(t *testing.T) {
		n := len(up.requests())
		out := rawRequest(t, g.proxy, "GET /anon/raw HTTP/1.1\r\nHost: x\r\nx-user-id: a\r\nX-USER-ID: b\r\n"+
			"x-consumer-username: c\r\nX-User-Role: d\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 200") {
			t.Fatalf("got %q", firstLine(out))
		}
		reqs := up.requests()[n:]
		if len(reqs) != 1 {
			t.Fatalf("upstream got %d requests, want 1", len(reqs))
		}
		for _, h := range []string{"X-User-Id", "X-User-Role", "X-Consumer-Username"} {
			if v := reqs[0].Header.Values(h); len(v) > 0 {
				t.Errorf("upstream saw %s = %q", h, v)
			}
		}
	})

	t.Run("ambiguous credentials are rejected with 401", func(t *testing.T) {
		tok := token()
		for _, tc := range []struct{ name, headers, target string }{
			{"two Authorization headers", "Authorization: Bearer " + tok + "\r\nAuthorization: Bearer " + token() + "\r\n", ""},
			{"two identical Authorization headers", "Authorization: Bearer " + tok + "\r\nAuthorization: Bearer " + tok + "\r\n", ""},
			{"a bearer token and an API key", "Authorization: Bearer " + tok + "\r\nX-API-Key: " + authnKeyNew + "\r\n", ""},
			{"two API keys", "X-API-Key: " + authnKeyNew + "\r\nX-API-Key: " + authnKeyOld + "\r\n", ""},
			{"a query token and an Authorization header", "Authorization: Bearer " + tok + "\r\n", "/query/x?access_token=" + token()},
			{"two query tokens", "", "/query/x?access_token=" + tok + "&access%5ftoken=" + token()},
		} {
			if tc.target == "" {
				tc.target = "/api/x"
			}
			n := len(up.requests())
			out := rawRequest(t, g.proxy, "GET "+tc.target+" HTTP/1.1\r\nHost: x\r\n"+tc.headers+"Connection: close\r\n\r\n")
			if !strings.HasPrefix(out, "HTTP/1.1 401") || !strings.Contains(out, `"reason":"credential_ambiguous"`) {
				t.Fatalf("%s: got %q", tc.name, out)
			}
			if len(up.requests()) != n {
				t.Fatalf("%s reached the upstream", tc.name)
			}
		}
		// The same pair through a regular client, decoded as a problem.
		resp := g.do("GET", "/api/x", nil, map[string]string{"Authorization": "Bearer " + tok, "X-API-Key": authnKeyNew})
		authnWantProblem(t, resp, 401, "credential_ambiguous")
	})

	t.Run("no token or key, accepted or rejected, appears in the gateway's output", func(t *testing.T) {
		forged := newAuthnSigner(t).token(t, authnClaims(t, authnStaticIss, "mallory"), map[string]any{"kid": key.kid})
		tokens = append(tokens, forged)
		authnWantProblem(t, g.do("GET", "/query/x?access_token="+forged, nil, nil), 401, "bad_signature")
		authnWantProblem(t, g.do("GET", "/api/x", nil, authnBearer(forged)), 401, "bad_signature")
		authnNoSecretsInOutput(t, g, append([]string{authnKeyNew, authnKeyOld}, tokens...))
	})
}
