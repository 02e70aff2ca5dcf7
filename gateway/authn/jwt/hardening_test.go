package jwt_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Issue 12, class 11: keys and tokens.

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("err = %v, want accepted", err)
		}
		return
	}
	if p := problem.As(err); p == nil || string(p.Reason) != reason {
		t.Fatalf("err = %v, want %s", err, reason)
	}
}

func withKID(t *testing.T, k jwk.Key, kid string) jwk.Key {
	t.Helper()
	c, err := k.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCacheHonoursKeySetChanges: a cached token verified with a key that a
// refresh dropped (or replaced under the same kid) is refused at once, not
// when its cache entry expires; changes that leave its key alone keep the
// entry.
func TestCacheHonoursKeySetChanges(t *testing.T) {
	t.Parallel()
	k := testKeys(t)
	ec2 := gwtest.NewECKey(t)
	tests := []struct {
		name   string
		key    jwk.Key
		alg    string
		hdr    map[string]any
		change func(e *env)
		reason string // of the cached token after the refresh; "" = accepted
		hit    bool   // the accepted token came from the cache
	}{
		{name: "a dropped kid is refused at the next refresh", key: k.rsa, alg: "RS256",
			change: func(e *env) { e.srv.SetKeys(t, k.ec, k.ed) }, reason: jwt.ReasonUnknownKID},
		{name: "a dropped EC kid is refused at the next refresh", key: k.ec, alg: "ES256",
			change: func(e *env) { e.srv.SetKeys(t, k.rsa, k.ed) }, reason: jwt.ReasonUnknownKID},
		{name: "new material under the same kid is refused", key: k.rsa, alg: "RS256",
			change: func(e *env) { e.srv.SetKeys(t, withKID(t, k.other, kidOf(t, k.rsa)), k.ec, k.ed) }, reason: jwt.ReasonBadSignature},
		{name: "a kid now pinned to another algorithm is refused", key: k.rsa, alg: "RS256",
			change: func(e *env) {
				pinned := withKID(t, k.rsa, kidOf(t, k.rsa))
				if err := pinned.Set(jwk.AlgorithmKey, "PS256"); err != nil {
					t.Fatal(err)
				}
				e.srv.SetKeys(t, pinned, k.ec, k.ed)
			}, reason: jwt.ReasonKeyAlgMismatch},
		{name: "a kid-less token is refused once a second key fits its alg", key: k.ec, alg: "ES256", hdr: map[string]any{"kid": nil},
			change: func(e *env) { e.srv.SetKeys(t, k.rsa, k.ec, k.ed, ec2) }, reason: jwt.ReasonUnknownKID},
		{name: "an added key keeps the cached token", key: k.rsa, alg: "RS256",
			change: func(e *env) { e.srv.SetKeys(t, k.rsa, k.ec, k.ed, k.other) }, hit: true},
		{name: "a reordered set keeps the cached token", key: k.rsa, alg: "RS256",
			change: func(e *env) { e.srv.SetKeys(t, k.ed, k.ec, k.rsa) }, hit: true},
		{name: "an unchanged set keeps the cached token", key: k.rsa, alg: "RS256", change: func(*env) {}, hit: true},
		{name: "a failed refresh keeps the cached token (stale-if-error)", key: k.rsa, alg: "RS256",
			change: func(e *env) { e.srv.SetMode(gwtest.ModeFail) }, hit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tok := gwtest.MintToken(t, tc.key, tc.alg, e.claims(issRS, map[string]any{"exp": t0.Unix() + 3600}), tc.hdr)
			for range 2 {
				wantReason(t, ok(e.auth(tok)), "")
			}
			tc.change(e)
			e.clock.Advance(31 * time.Second) // past min_refresh_interval
			// An unknown kid forces the refresh, deterministically.
			trigger := gwtest.MintToken(t, k.other, "RS256", e.claims(issRS, nil), map[string]any{"kid": "trigger"})
			wantReason(t, ok(e.auth(trigger)), jwt.ReasonUnknownKID)
			hits := counter(t, e.reg, "portcullis_jwt_cache_hits_total")
			wantReason(t, ok(e.auth(tok)), tc.reason)
			if got := counter(t, e.reg, "portcullis_jwt_cache_hits_total") - hits; (got == 1) != tc.hit {
				t.Fatalf("cache hits of the last use = %v, want hit %v", got, tc.hit)
			}
			if tc.reason != "" { // and it stays refused
				wantReason(t, ok(e.auth(tok)), tc.reason)
			}
		})
	}
}

func ok(_ any, err error) error { return err }

func TestJWTTypeHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		typ    any // "-" removes the header
		reason string
	}{
		{typ: "-"},
		{typ: "JWT"},
		{typ: "jwt"},
		{typ: "at+jwt"},
		{typ: "AT+JWT"},
		{typ: "application/at+jwt"},
		{typ: "Application/AT+JWT"},
		{typ: "application/jwt"},
		{typ: "JOSE"},
		{typ: "logout+jwt", reason: jwt.ReasonTokenType},
		{typ: "LOGOUT+JWT", reason: jwt.ReasonTokenType},
		{typ: "application/logout+jwt", reason: jwt.ReasonTokenType},
		{typ: " logout+jwt ", reason: jwt.ReasonTokenType},
		{typ: "logout+jwt; charset=utf-8", reason: jwt.ReasonTokenType},
		{typ: "secevent+jwt", reason: jwt.ReasonTokenType},
		{typ: "dpop+jwt", reason: jwt.ReasonTokenType},
		{typ: "token-introspection+jwt", reason: jwt.ReasonTokenType},
		{typ: "oauth-authz-req+jwt", reason: jwt.ReasonTokenType},
		{typ: "refresh+jwt", reason: jwt.ReasonTokenType},
		{typ: "id_token+jwt", reason: jwt.ReasonTokenType},
		{typ: "kb+jwt", reason: jwt.ReasonTokenType},
		{typ: 1, reason: jwt.ReasonMalformed},
		{typ: []string{"at+jwt"}, reason: jwt.ReasonMalformed},
		{typ: nil, reason: jwt.ReasonMalformed},
	}
	for _, tc := range tests {
		name, _ := json.Marshal(tc.typ)
		t.Run("typ "+string(name), func(t *testing.T) {
			t.Parallel()
			var tok string
			if tc.typ == "-" {
				tok = gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, nil), map[string]any{"typ": nil})
			} else {
				h, err := json.Marshal(map[string]any{"alg": "RS256", "kid": kidOf(t, e.keys.rsa), "typ": tc.typ})
				if err != nil {
					t.Fatal(err)
				}
				p, err := json.Marshal(e.claims(issRS, nil))
				if err != nil {
					t.Fatal(err)
				}
				tok = gwtest.Sign(t, e.keys.rsa, "RS256", h, p)
			}
			wantReason(t, ok(e.auth(tok)), tc.reason)
		})
	}
}

var (
	weakOnce sync.Once
	weak     *gwtest.WeakRSAKey
)

func weakKey(t *testing.T) *gwtest.WeakRSAKey {
	weakOnce.Do(func() { weak = gwtest.NewWeakRSAKey(t, 1024) })
	return weak
}

// TestWeakStaticKeysAreLeftOut: key files are held to the same floor as a
// fetched JWKS, and a weak key does not take the file's others down.
func TestWeakStaticKeysAreLeftOut(t *testing.T) {
	gwtest.ForEachRSAFloor(t, func(t *testing.T) {
		w := weakKey(t)
		k := testKeys(t)
		pubDER, err := x509.MarshalPKIXPublicKey(&w.Key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		weakPub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
		weakPriv := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(w.Key)}))
		weakPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&w.Key.PublicKey)}))
		strongPEM := string(pemOf(t, k.rsa))
		jwksWith := func(entries ...map[string]any) string {
			b, err := json.Marshal(map[string]any{"keys": entries})
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		tests := []struct {
			name    string
			files   []string
			refused float64
			wantErr string
		}{
			{name: "a weak PEM public key beside a strong PEM file", files: []string{weakPub, strongPEM}, refused: 1},
			{name: "a weak PEM private key beside a strong PEM file", files: []string{weakPriv, strongPEM}, refused: 1},
			{name: "a weak PKCS#1 public key beside a strong PEM file", files: []string{weakPKCS1, strongPEM}, refused: 1},
			{name: "one PEM file with a weak and a strong block", files: []string{weakPub + strongPEM}, refused: 1},
			{name: "a JWKS file with a weak and a strong key", files: []string{jwksWith(w.JWK(), gwtest.JWKObject(t, k.rsa))}, refused: 1},
			{name: "a weak single JWK file beside a strong one", files: []string{jwksWith(w.JWK()), strongPEM}, refused: 1},
			{name: "weak keys in every form beside a strong one", files: []string{weakPub, weakPriv, jwksWith(w.JWK()), strongPEM}, refused: 3},
			{name: "only weak keys is an error", files: []string{weakPub, jwksWith(w.JWK())}, wantErr: "no signature verification keys"},
			{name: "a malformed JWKS entry is still an error", files: []string{jwksWith(map[string]any{"kty": "EC", "crv": "P-256", "x": "AA"}), strongPEM}, wantErr: "is not a supported key"},
			{name: "a malformed PEM block is still an error", files: []string{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", strongPEM}, wantErr: "pem block 0"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				var paths []string
				for i, f := range tc.files {
					p := filepath.Join(dir, "key"+string(rune('a'+i)))
					if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
						t.Fatal(err)
					}
					paths = append(paths, p)
				}
				reg := prometheus.NewRegistry()
				clock := gwtest.NewClock(t0)
				a, err := jwt.New(defaulted(config.JWT{Issuers: []config.Issuer{{Issuer: issStatic, Keys: paths, Algorithms: []string{"RS256"}}}}),
					jwt.Options{Registerer: reg, Now: clock.Now})
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want %q", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				e := &env{a: a, clock: clock, reg: reg}
				claims := map[string]any{"iss": issStatic, "sub": "alice", "exp": t0.Unix() + 600}
				strong := gwtest.MintToken(t, k.rsa, "RS256", claims, map[string]any{"kid": nil})
				wantReason(t, ok(e.auth(strong)), "")
				wantReason(t, ok(e.auth(w.Token(t, claims))), jwt.ReasonUnknownKID)
				if got := counter(t, reg, "portcullis_jwks_keys_rejected_total"); got != tc.refused {
					t.Fatalf("refused keys = %v, want %v", got, tc.refused)
				}
			})
		}
	})
}
