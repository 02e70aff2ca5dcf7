package jwks

import (
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Usable tells whether key may verify a signature made with alg: its type
// (and curve) fits alg, its own "alg" (when set) is alg, its "use" (when set)
// is "sig" and its "key_ops" (when set) include "verify". Pinning the key
// type to the algorithm is what defeats RS/HS confusion (CVE-2016-10555).
func Usable(key jwk.Key, alg jwa.SignatureAlgorithm) bool {
	if a, ok := key.Algorithm(); ok && a.String() != alg.String() {
		return false
	}
	if u, ok := key.KeyUsage(); ok && u != jwk.ForSignature.String() {
		return false
	}
	if ops, ok := key.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
		return false
	}
	switch alg {
	case jwa.RS256(), jwa.RS384(), jwa.RS512(), jwa.PS256(), jwa.PS384(), jwa.PS512():
		return key.KeyType() == jwa.RSA()
	case jwa.HS256(), jwa.HS384(), jwa.HS512():
		return key.KeyType() == jwa.OctetSeq()
	case jwa.ES256():
		return hasCurve(key, jwa.EC(), jwa.P256())
	case jwa.ES384():
		return hasCurve(key, jwa.EC(), jwa.P384())
	case jwa.ES512():
		return hasCurve(key, jwa.EC(), jwa.P521())
	case jwa.EdDSA():
		return hasCurve(key, jwa.OKP(), jwa.Ed25519())
	}
	return false
}

func hasCurve(key jwk.Key, kty jwa.KeyType, crv jwa.EllipticCurveAlgorithm) bool {
	if key.KeyType() != kty {
		return false
	}
	var got jwa.EllipticCurveAlgorithm
	return key.Get(jwk.ECDSACrvKey, &got) == nil && got == crv
}
