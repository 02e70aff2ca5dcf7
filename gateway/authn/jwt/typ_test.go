package jwt

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzCheckType: no typ value panics, and every typ accepted, once
// normalized as RFC 7515 §4.1.9 allows, names no profile but at+jwt.
func FuzzCheckType(f *testing.F) {
	for _, s := range []string{"JWT", "at+jwt", "application/at+jwt", "logout+jwt", " LOGOUT+JWT ; q=1", "application/", "+jwt", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typ string) {
		if checkType(map[string]any{"typ": typ}) != nil {
			return
		}
		media, _, _ := strings.Cut(typ, ";")
		media = strings.ToLower(strings.TrimFunc(media, unicode.IsSpace))
		media = strings.TrimPrefix(media, "application/")
		if strings.HasSuffix(media, "+jwt") && media != "at+jwt" {
			t.Fatalf("typ %q accepted", typ)
		}
	})
}
