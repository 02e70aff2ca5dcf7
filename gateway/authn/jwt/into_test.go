package jwt_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/internal/gwtest"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

// TestAuthenticateInto: with the cache, the miss and every hit land in
// dst, a copy equal to Authenticate's that the cache does not share;
// without it, the verification's own identity is returned and dst is
// left alone.
func TestAuthenticateInto(t *testing.T) {
	t.Parallel()
	for _, size := range []int{10, 0} {
		e := newEnv(t, func(c *config.JWT) { c.CacheSize = size })
		tok := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, map[string]any{"groups": []string{"eng"}}), nil)
		cred := pipeline.Credential{Kind: "bearer", Source: "header", Value: tok}
		for i := range 3 { // a miss, then hits
			var dst policy.Identity
			got, err := e.a.AuthenticateInto(context.Background(), cred, &dst)
			if err != nil {
				t.Fatal(err)
			}
			want, err := e.auth(tok)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("size %d, call %d: %+v, Authenticate %+v", size, i, got, want)
			}
			if (got == &dst) != (size > 0) || (size == 0 && dst.Subject != "") {
				t.Fatalf("size %d, call %d: result in dst %v, dst %+v", size, i, got == &dst, dst)
			}
			dst.Subject = "mallory"
		}
	}
	if _, err := (newEnv(t)).a.AuthenticateInto(context.Background(), pipeline.Credential{Kind: "api_key", Value: "k"}, new(policy.Identity)); err != pipeline.ErrNoCredential {
		t.Fatalf("an API key: %v", err)
	}
}
