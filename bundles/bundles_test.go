// Package bundles holds the example policy bundle; its tests run the Rego tests and check the data contract.
package bundles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/policy/engine"
)

func TestRegoTestsPass(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ok, err := engine.RunTests(context.Background(), []string{"portcullis"}, &out,
		engine.TestOptions{MaxBundleBytes: int64(config.Default().Policy.MaxBundleBytes)})
	if err != nil || !ok {
		t.Fatalf("ok %v, err %v:\n%s", ok, err, out.String())
	}
}

// TestConsumerKeysMatchTheExample checks the shape the API-key authenticator
// reads: portcullis.consumers.<name>.{groups, keys[{id, hash}]} with
// sha256:<hex> hashes of the keys of the example consumers.
func TestConsumerKeysMatchTheExample(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Policy.Bundles = []config.BundleSource{{Name: "portcullis", Path: "portcullis"}}
	e, err := engine.New(context.Background(), generation.EngineOptions(cfg, nil, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, consumer, key, keyID, group string
	}{
		{"the partner read key", "read-only-partner", "partner-read-key-rotated-2026-04", "partner-2026-04", "read-access"},
		{"the internal service key", "internal-service", "internal-svc-key-rotated-2026-04", "internal-2026-04", "full-access"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, ok := e.Data("portcullis.consumers." + tc.consumer)
			c, isMap := v.(map[string]any)
			if !ok || !isMap {
				t.Fatalf("consumer %s missing", tc.consumer)
			}
			groups, _ := c["groups"].([]any)
			keys, _ := c["keys"].([]any)
			if len(groups) != 1 || groups[0] != tc.group || len(keys) != 1 {
				t.Fatalf("consumer = %v", c)
			}
			k, _ := keys[0].(map[string]any)
			sum := sha256.Sum256([]byte(tc.key))
			if k["id"] != tc.keyID || k["hash"] != "sha256:"+hex.EncodeToString(sum[:]) {
				t.Errorf("key = %v", k)
			}
		})
	}
}
