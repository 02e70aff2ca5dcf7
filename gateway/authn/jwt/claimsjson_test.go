package jwt_test

import (
	"testing"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
)

// TestCachedTokenSharesItsClaimsJSON: every identity handed out for one
// cached token carries the same claims cell, so the decision log encodes
// the claims once; another token has a cell of its own.
func TestCachedTokenSharesItsClaimsJSON(t *testing.T) {
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
	if first == second || first.ClaimsJSON == nil || first.ClaimsJSON != second.ClaimsJSON {
		t.Fatalf("two hits of one token: identities %p %p, claims cells %p %p; want two copies sharing one cell",
			first, second, first.ClaimsJSON, second.ClaimsJSON)
	}
	if third.ClaimsJSON == nil || third.ClaimsJSON == first.ClaimsJSON {
		t.Fatalf("another token's claims cell %p, want its own (first's is %p)", third.ClaimsJSON, first.ClaimsJSON)
	}
}
