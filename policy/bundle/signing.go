package bundle

import (
	"errors"
	"fmt"
	"os"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// Signing verifies OPA bundle signatures (.signatures.json).
type Signing struct {
	// KeyFile holds the public key in PEM form, or the HMAC secret for HS* algorithms.
	KeyFile string
	// KeyID is the key id the signature must name. Empty means "default".
	KeyID string
	// Algorithm is the JWS algorithm. Empty means RS256.
	Algorithm string
	// Scope, when set, must match the signature's scope claim.
	Scope string
}

func (s *Signing) verificationConfig() (*opabundle.VerificationConfig, error) {
	if s.KeyFile == "" {
		return nil, errors.New("signing: no key file")
	}
	key, err := os.ReadFile(s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	id, alg := s.KeyID, s.Algorithm
	if id == "" {
		id = "default"
	}
	if alg == "" {
		alg = "RS256"
	}
	keys := map[string]*opabundle.KeyConfig{id: {Key: string(key), Algorithm: alg, Scope: s.Scope}}
	vc := opabundle.NewVerificationConfig(keys, id, s.Scope, nil)
	if err := vc.ValidateAndInjectDefaults(keys); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return vc, nil
}
