// Package bundles holds the example policy bundle; its tests run the Rego tests and check the data contract.
package bundles

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/gateway/pipeline"
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

// TestConsumerKeysMatchTheExample checks that the example keys authenticate
// as the example consumers, read the way the gateway reads them: held out
// of OPA's store at authn.api_keys.data_path, with an empty revocation list.
func TestConsumerKeysMatchTheExample(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Policy.Bundles = []config.BundleSource{{Name: "portcullis", Path: "portcullis"}}
	e, err := engine.New(context.Background(), generation.EngineOptions(cfg, nil, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	k := cfg.Authn.APIKeys
	idx, err := apikey.Update(nil, strings.Split(k.DataPath, "."), strings.Split(k.RevokedDataPath, "."), e.TakeHeld())
	if err != nil {
		t.Fatal(err)
	}
	a := apikey.New(apikey.Options{})
	a.SetIndex(idx)
	tests := []struct {
		name, consumer, key, keyID, group string
	}{
		{"the partner read key", "read-only-partner", "partner-read-key-rotated-2026-04", "partner-2026-04", "read-access"},
		{"the internal service key", "internal-service", "internal-svc-key-rotated-2026-04", "internal-2026-04", "full-access"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := a.Authenticate(context.Background(), pipeline.Credential{Kind: "api_key", Source: "header", Value: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			if id.Consumer != tc.consumer || id.KeyID != tc.keyID || !slices.Equal(id.Groups, []string{tc.group}) {
				t.Errorf("identity = consumer %q, key id %q, groups %v", id.Consumer, id.KeyID, id.Groups)
			}
		})
	}
}
