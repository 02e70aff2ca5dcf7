package authn

import (
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

func TestSecretQuery(t *testing.T) {
	t.Parallel()
	s := NewSecretQuery(append(append([]string(nil), config.DefaultSecretQueryParams...), "X-Custom-Secret-Thing", "otp_code"))
	secret := []string{
		"access_token", "ACCESS_TOKEN", "Access-Token", "accessToken", "access.token", "access token",
		"token", "Token", "id_token", "idToken", "refresh_token", "refresh-token", "jwt", "JWT",
		"api_key", "apikey", "api-key", "API-KEY", "apiKey", "api.key", "key", "Key",
		"password", "Password", "passwd", "pwd", "secret", "client_secret", "clientSecret", "client-secret",
		"signature", "sig", "X-Amz-Signature", "x-amz-signature", "X-Goog-Signature", "X-Amz-Security-Token",
		"auth_token", "githubToken", "app_secret", "new_password", "user[password]", "api_key[]",
		"user[credentials][password]", "x_custom_secret_thing", "OTP-Code", "session_id", "SAMLResponse",
	}
	public := []string{"limit", "offset", "page", "q", "sort", "keyword", "keys", "code", "state", "user[name]", "tokens", "passage", "", "[]"}
	for _, n := range secret {
		if !s.Is(n) {
			t.Errorf("%q is not secret", n)
		}
	}
	for _, n := range public {
		if s.Is(n) {
			t.Errorf("%q is secret", n)
		}
	}
}

func TestSecretQueryAllocs(t *testing.T) {
	s := NewSecretQuery(config.DefaultSecretQueryParams)
	if n := testing.AllocsPerRun(100, func() { _ = s.Is("limit") || s.Is("Access-Token") }); n != 0 {
		t.Fatalf("%v allocations per lookup", n)
	}
}
