package jwt_test

import (
	"testing"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
)

// TestCachedTokenSharesItsJSON: every identity handed out for one cached
// token carries the same identity cell, so the decision log encodes the
// identity once; another token has a cell of its own.
func TestCachedTokenSharesItsJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, map[string]any{"role": "buyer"}), nil)
	other := gwtest.MintToken(t, e.keys.rsa, "RS256", e.claims(issRS, map[string]any{"role": "seller"}), nil)
	first, err := e.auth(tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.auth(tok)
	if err != nil {
		t.Fatal(err)
	}
	third, err := e.auth(other)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || first.JSON == nil || first.JSON != second.JSON {
		t.Fatalf("two hits of one token: identities %p %p, identity cells %p %p; want two copies sharing one cell",
			first, second, first.JSON, second.JSON)
	}
	if third.JSON == nil || third.JSON == first.JSON {
		t.Fatalf("another token's identity cell %p, want its own (first's is %p)", third.JSON, first.JSON)
	}
}
