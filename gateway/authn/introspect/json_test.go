package introspect

import "testing"

// TestCachedResponseSharesItsJSON: the identities made from one cached
// response share its identity cell, so the decision log encodes the
// identity once; another token's response has a cell of its own.
func TestCachedResponseSharesItsJSON(t *testing.T) {
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
	if first.JSON == nil || first.JSON != second.JSON {
		t.Fatalf("two hits of one token: identity cells %p %p, want one shared", first.JSON, second.JSON)
	}
	if third.JSON == nil || third.JSON == first.JSON {
		t.Fatalf("another token's identity cell %p, want its own (first's is %p)", third.JSON, first.JSON)
	}
}
