package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIKeysDataPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       string // "" = valid
	}{
		{name: "the defaults", yaml: ""},
		{name: "both set", yaml: "authn:\n  api_keys: {data_path: keys.all, revoked_data_path: keys.revoked}\n"},
		{name: "an empty segment", yaml: "authn:\n  api_keys: {revoked_data_path: keys..revoked}\n", want: `authn.api_keys.revoked_data_path: "keys..revoked" is not a dotted data path`},
		{name: "a bad data_path", yaml: "authn:\n  api_keys: {data_path: .consumers}\n", want: `authn.api_keys.data_path: ".consumers" is not a dotted data path`},
		{name: "the list inside the keys", yaml: "authn:\n  api_keys: {revoked_data_path: portcullis.consumers.revoked}\n", want: `authn.api_keys.revoked_data_path: "portcullis.consumers.revoked" overlaps authn.api_keys.data_path "portcullis.consumers"`},
		{name: "the keys inside the list", yaml: "authn:\n  api_keys: {data_path: portcullis.revoked_api_keys.x}\n", want: "overlaps"},
		{name: "the same path", yaml: "authn:\n  api_keys: {revoked_data_path: portcullis.consumers}\n", want: "overlaps"},
		{name: "a shared prefix is fine", yaml: "authn:\n  api_keys: {revoked_data_path: portcullis.consumers_revoked}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(tc.yaml+minimal))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.yaml == "" && c.Authn.APIKeys.RevokedDataPath != "portcullis.revoked_api_keys" {
					t.Errorf("revoked_data_path default = %q", c.Authn.APIKeys.RevokedDataPath)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
