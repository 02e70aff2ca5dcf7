package config

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var (
	yamlBlockRE = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	envRE       = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// TestREADMEConfigExamplesDecode decodes every YAML example of the README
// (but Helm values, marked "# Helm values") strictly, so that a renamed or misspelt field in the documentation fails
// the build. (The example portcullis.yaml is loaded, checked and run by the
// end-to-end tests.)
func TestREADMEConfigExamplesDecode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlockRE.FindAllSubmatch(readme, -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d yaml blocks in README.md, want the configuration examples", len(blocks))
	}
	for _, m := range blocks {
		block := m[1]
		if bytes.HasPrefix(block, []byte("# Helm values")) {
			continue // the chart's values.yaml, not a gateway configuration
		}
		for _, v := range envRE.FindAllSubmatch(block, -1) {
			t.Setenv(string(v[1]), strings.Repeat("s", 40))
		}
		dec := yaml.NewDecoder(bytes.NewReader(block))
		dec.KnownFields(true)
		var c Config
		if err := dec.Decode(&c); err != nil {
			t.Errorf("README example does not decode: %v\n%s", err, block)
		}
	}
}
