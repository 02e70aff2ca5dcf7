package jwks

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// FuzzKeySet feeds arbitrary JWKS documents, parsed as a fetch parses
// them: none may panic, and no key that Refuse refuses (a small RSA
// modulus, an odd curve, a secret) is ever in the index.
func FuzzKeySet(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"a"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-192","x":"AA","y":"AA"},{"kty":"oct","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"b","use":"sig"}]}`,
		`{"keys":[{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"kty":"RSA","n":"AQAB","e":"AQ"}`,
		`{"keys":[null, 1, "x", {}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := jwk.Parse(doc, jwk.WithStrictKeySetParsing(false))
		if err != nil {
			return
		}
		ks, _, err := newKeySet(set, time.Time{}, nil)
		if err != nil {
			return
		}
		for _, k := range ks.all {
			if r, refused := Refuse(k); refused {
				t.Fatalf("indexed a refused key: %+v", r)
			}
			if k.KeyType() == jwa.OctetSeq() {
				t.Fatal("indexed a secret")
			}
		}
	})
}
