package jwt_test

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
)

// FuzzAuthenticate feeds arbitrary bearer tokens: none may panic and none
// may authenticate. The seeds are near-valid tokens with broken signatures.
func FuzzAuthenticate(f *testing.F) {
	e := newEnv(f)
	valid := gwtest.MintToken(f, e.keys.rsa, "RS256", e.claims(issRS, nil), nil)
	unsigned := valid[:strings.LastIndexByte(valid, '.')+1]
	hs := gwtest.MintToken(f, e.keys.hs, "HS256", e.claims(issHS, nil), nil)
	for _, s := range []string{
		unsigned,
		unsigned + "AAAA",
		hs[:len(hs)-2],
		gwtest.MintToken(f, e.keys.rsa, "none", e.claims(issRS, nil), nil),
		gwtest.Forge(`{"alg":"ES256","kid":"../../etc/passwd"}`, `{"iss":"https://rs.test"}`, make([]byte, 64)),
		gwtest.Forge(`{"alg":"HS256","crit":["x"]}`, `{}`, nil),
		"a.b.c.d.e", "....", "opaque", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := e.auth(token)
		if err == nil || id != nil {
			t.Fatalf("authenticated %q as %+v", token, id)
		}
	})
}
