package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// HashPrefix starts every key hash in bundle data.
const HashPrefix = "sha256:"

// KeyPrefix starts every key Generate makes, so leaked keys are easy to spot
// by secret scanners.
const KeyPrefix = "pk_"

// keyBytes is the entropy of a generated key: 256 bits.
const keyBytes = 32

// Hash returns the form in which a key is stored in bundle data:
// "sha256:" and the lower-case hex SHA-256 of the key.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return HashPrefix + hex.EncodeToString(sum[:])
}

// Generate makes a new key for consumer: "pk_" and the base64url encoding of
// 32 random bytes. record is the consumer entry to paste into bundle data
// under the API-key data path; it holds the key's hash, never the key:
//
//	{"<consumer>": {"groups": [...], "keys": [{"id": "<keyID>", "hash": "sha256:<hex>"}]}}
//
// The key itself is shown once to whoever issues it and stored nowhere.
func Generate(consumer string, groups []string, keyID string) (key string, record map[string]any, err error) {
	if consumer == "" {
		return "", nil, errors.New("generate api key: consumer is required")
	}
	if keyID == "" {
		return "", nil, errors.New("generate api key: key id is required")
	}
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("generate api key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	g := make([]any, len(groups))
	for i, s := range groups {
		g[i] = s
	}
	record = map[string]any{
		consumer: map[string]any{
			"groups": g,
			"keys":   []any{map[string]any{"id": keyID, "hash": Hash(key)}},
		},
	}
	return key, record, nil
}
