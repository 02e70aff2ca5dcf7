package jwks

import (
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// keySet is an immutable index of verification keys, built once per fetch.
type keySet struct {
	byKID     map[string][]jwk.Key
	all       []jwk.Key
	fetchedAt time.Time
}

// errNoKeys is returned when a document holds no key usable for signatures.
var errNoKeys = errors.New("no signature verification keys")

// newKeySet indexes the public form of every asymmetric signing key in src.
// Symmetric keys and keys meant for encryption are dropped: a JWKS never
// carries HMAC secrets we would trust.
func newKeySet(src jwk.Set, at time.Time) (*keySet, error) {
	ks := &keySet{byKID: make(map[string][]jwk.Key, src.Len()), fetchedAt: at}
	for i := range src.Len() {
		k, ok := src.Key(i)
		if !ok || k.KeyType() == jwa.OctetSeq() {
			continue
		}
		if u, ok := k.KeyUsage(); ok && u != jwk.ForSignature.String() {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", i, err)
		}
		ks.all = append(ks.all, pub)
		if kid, ok := pub.KeyID(); ok && kid != "" {
			ks.byKID[kid] = append(ks.byKID[kid], pub)
		}
	}
	if len(ks.all) == 0 {
		return nil, errNoKeys
	}
	return ks, nil
}

// find returns the key for kid, preferring one usable for alg. With an empty
// kid it returns the only key usable for alg, if there is exactly one.
func (ks *keySet) find(kid string, alg jwa.SignatureAlgorithm) (jwk.Key, bool) {
	if kid == "" {
		var found jwk.Key
		for _, k := range ks.all {
			if Usable(k, alg) {
				if found != nil {
					return nil, false
				}
				found = k
			}
		}
		return found, found != nil
	}
	keys := ks.byKID[kid]
	if len(keys) == 0 {
		return nil, false
	}
	for _, k := range keys {
		if Usable(k, alg) {
			return k, true
		}
	}
	// The caller checks Usable and reports the mismatch; the kid is known,
	// so this must not count as an unknown kid and force a refetch.
	return keys[0], true
}
