package introspect

import "testing"

// TestCachedResponseSharesItsClaimsJSON: the identities made from one
// cached response share its claims cell, so the decision log encodes the
// claims once; another token's response has a cell of its own.
func TestCachedResponseSharesItsClaimsJSON(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{"tok": active(nil), "other": active(map[string]any{"sub": "bob"})})
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	first, err := c.Authenticate(t.Context(), bearer("tok"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Authenticate(t.Context(), bearer("tok"))
	if err != nil {
		t.Fatal(err)
	}
	third, err := c.Authenticate(t.Context(), bearer("other"))
	if err != nil {
		t.Fatal(err)
	}
	if first.ClaimsJSON == nil || first.ClaimsJSON != second.ClaimsJSON {
		t.Fatalf("two hits of one token: claims cells %p %p, want one shared", first.ClaimsJSON, second.ClaimsJSON)
	}
	if third.ClaimsJSON == nil || third.ClaimsJSON == first.ClaimsJSON {
		t.Fatalf("another token's claims cell %p, want its own (first's is %p)", third.ClaimsJSON, first.ClaimsJSON)
	}
}
