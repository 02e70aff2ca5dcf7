package jwt

import "testing"

// TestIdentityHasItsOwnJSONCells: a verified token's identity carries an
// identity cell and a claims cell of its own (the cache hands out copies,
// which share them), so the decision log encodes the identity once per
// cached token.
func TestIdentityHasItsOwnJSONCells(t *testing.T) {
	t.Parallel()
	iss := &issuer{name: "https://idp.example.com"}
	a := identity(map[string]any{"sub": "alice"}, iss, "k1", validity{})
	b := identity(map[string]any{"sub": "bob"}, iss, "k1", validity{})
	if a.JSON == nil || a.ClaimsJSON == nil || a.JSON == b.JSON || a.ClaimsJSON == b.ClaimsJSON {
		t.Fatalf("identity cells %p %p, claims cells %p %p: want cells of each identity's own", a.JSON, b.JSON, a.ClaimsJSON, b.ClaimsJSON)
	}
}
