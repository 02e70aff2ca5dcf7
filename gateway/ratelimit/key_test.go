package ratelimit

import (
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

func TestKeyParts(t *testing.T) {
	t.Parallel()
	alice := &policy.Input{
		Request: policy.Request{ClientIP: "192.0.2.7"},
		Identity: &policy.Identity{Authenticated: true, Method: policy.MethodJWT, Subject: "alice", Issuer: "https://idp",
			KeyID: "k1", Consumer: "acme", Claims: map[string]any{"tenant": "t1", "level": 3.0}},
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("X-Tenant", "a")
	r.Header.Add("X-Tenant", "b")
	for _, tc := range []struct {
		name string
		part string
		in   *policy.Input
		want string
	}{
		{"consumer is the identity's consumer", "consumer", alice, "acme"},
		{"subject is the identity's subject", "subject", alice, "alice"},
		{"client_ip is the derived client address", "client_ip", alice, "192.0.2.7"},
		{"route is the route's name", "route", alice, "partner"},
		{"credential names the JWT by issuer, key and subject, never the token", "credential", alice, "jwt\x00https://idp\x00k1\x00alice"},
		{"a header's values are joined", "header:x-tenant", alice, "a,b"},
		{"a string claim is its value", "claim:tenant", alice, "t1"},
		{"a number claim is printed", "claim:level", alice, "3"},
		{"a missing claim is empty", "claim:nope", alice, ""},
		{"an anonymous request has an empty consumer", "consumer", &policy.Input{}, ""},
		{"a client certificate is its fingerprint", "credential", &policy.Input{Identity: &policy.Identity{Method: policy.MethodClientCert,
			Certificate: &policy.Certificate{FingerprintSHA256: "sha256:ab"}}}, "client_cert\x00sha256:ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps, err := compileKey([]string{tc.part})
			if err != nil {
				t.Fatal(err)
			}
			if got := ps[0](r, tc.in, "partner"); got != tc.want {
				t.Fatalf("%s = %q, want %q", tc.part, got, tc.want)
			}
		})
	}
	if _, err := compileKey([]string{"password"}); err == nil {
		t.Fatal("an unknown part compiled")
	}
}

func TestKeyIsADigestThatKeepsPartsApart(t *testing.T) {
	t.Parallel()
	if Key("ab", "c") == Key("a", "bc") {
		t.Fatal(`("ab","c") and ("a","bc") share a key`)
	}
	k := Key("alice@example.com")
	if k == Key("bob@example.com") || k != Key("alice@example.com") {
		t.Fatalf("Key is not a stable digest: %x", k)
	}
}
