package introspect

import (
	"testing"
)

// TestTokenType is issue 12, class 11: an active refresh or ID token is not
// a credential for an API call, whatever the spelling of its token_type.
func TestTokenType(t *testing.T) {
	t.Parallel()
	const absent = "\x00absent"
	tests := []struct {
		name      string
		tokenType any      // absent: no token_type member
		accepted  []string // nil: the default access-token types
		status    int      // 0: accepted
		reason    string
	}{
		{name: "no token_type is accepted (RFC 7662 makes it optional)", tokenType: absent},
		{name: "a null token_type counts as absent", tokenType: nil},
		{name: "access_token is accepted", tokenType: "access_token"},
		{name: "ACCESS_TOKEN in upper case is accepted", tokenType: "ACCESS_TOKEN"},
		{name: "Bearer is accepted", tokenType: "Bearer"},
		{name: "bearer in lower case is accepted", tokenType: "bearer"},
		{name: "BEARER in upper case is accepted", tokenType: "BEARER"},
		{name: "the RFC 8693 access token URN is accepted", tokenType: "urn:ietf:params:oauth:token-type:access_token"},
		{name: "the access token URN in upper case is accepted", tokenType: "URN:IETF:PARAMS:OAUTH:TOKEN-TYPE:ACCESS_TOKEN"},
		{name: "refresh_token is refused", tokenType: "refresh_token", status: 401, reason: ReasonTokenType},
		{name: "Refresh_Token in mixed case is refused", tokenType: "Refresh_Token", status: 401, reason: ReasonTokenType},
		{name: "id_token is refused", tokenType: "id_token", status: 401, reason: ReasonTokenType},
		{name: "the refresh token URN is refused", tokenType: "urn:ietf:params:oauth:token-type:refresh_token", status: 401, reason: ReasonTokenType},
		{name: "the ID token URN is refused", tokenType: "urn:ietf:params:oauth:token-type:id_token", status: 401, reason: ReasonTokenType},
		{name: "the generic JWT URN is refused", tokenType: "urn:ietf:params:oauth:token-type:jwt", status: 401, reason: ReasonTokenType},
		{name: "Keycloak's Refresh is refused", tokenType: "Refresh", status: 401, reason: ReasonTokenType},
		{name: "an empty token_type is refused", tokenType: "", status: 401, reason: ReasonTokenType},
		{name: "access_token with a trailing space is refused", tokenType: "access_token ", status: 401, reason: ReasonTokenType},
		{name: "Bearer with a leading space is refused", tokenType: " Bearer", status: 401, reason: ReasonTokenType},
		{name: "access_token with a NUL byte is refused", tokenType: "access_token\x00", status: 401, reason: ReasonTokenType},
		{name: "N_A is refused", tokenType: "N_A", status: 401, reason: ReasonTokenType},
		{name: "a numeric token_type makes the server untrusted", tokenType: 1, status: 503, reason: ReasonUnavailable},
		{name: "an array token_type makes the server untrusted", tokenType: []string{"access_token"}, status: 503, reason: ReasonUnavailable},
		{name: "a configured refresh_token is accepted", tokenType: "refresh_token", accepted: []string{"refresh_token"}},
		{name: "an access token is refused when only refresh_token is configured", tokenType: "access_token", accepted: []string{"refresh_token"}, status: 401, reason: ReasonTokenType},
		{name: "a configured type matches in any case", tokenType: "DPOP", accepted: []string{"DPoP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := active(nil)
			if s, ok := tc.tokenType.(string); !ok || s != absent {
				resp["token_type"] = tc.tokenType
			}
			i := newIDP(t, map[string]map[string]any{"tok": resp})
			cfg := baseConfig(i.srv.URL)
			if tc.accepted != nil {
				cfg.TokenTypes = tc.accepted
			}
			c := newClient(t, cfg, newClock())
			// The second use is served from the cache: the check runs on
			// every use, cached or not.
			for range 2 {
				id, err := c.Authenticate(t.Context(), bearer("tok"))
				if tc.status == 0 {
					if err != nil || id == nil {
						t.Fatalf("err = %v, want accepted", err)
					}
					continue
				}
				if id != nil {
					t.Fatalf("identity %+v for a refused token", id)
				}
				wantReason(t, err, tc.status, tc.reason)
			}
		})
	}
}

func TestNewRefusesNoTokenTypes(t *testing.T) {
	t.Parallel()
	cfg := baseConfig("http://127.0.0.1:1/introspect")
	cfg.TokenTypes = nil
	if _, err := New(cfg, Options{}); err == nil || err.Error() != "introspection token_types: want at least one" {
		t.Fatalf("err = %v", err)
	}
}
