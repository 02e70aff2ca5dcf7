package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestShadow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	parse := func(shadow string) (*Config, error) {
		return Parse(filepath.Join(dir, "portcullis.yaml"), []byte(strings.Replace(minimal, "  bundles: [{name: b, path: .}]\n", "  bundles: [{name: b, path: .}]\n"+shadow, 1)))
	}
	t.Run("defaults: every request, a queue of 1000, paths relative to the file", func(t *testing.T) {
		t.Parallel()
		c, err := parse("  shadow: {bundles: [{name: b, path: .}]}\n")
		if err != nil {
			t.Fatal(err)
		}
		s := c.Policy.Shadow
		if s.Sample != 1 || s.QueueSize != 1000 || s.Bundles[0].Path != dir {
			t.Errorf("shadow = %+v", s)
		}
	})
	t.Run("no shadow section is no shadow", func(t *testing.T) {
		t.Parallel()
		c, err := parse("")
		if err != nil || c.Policy.Shadow != nil {
			t.Errorf("shadow = %+v, %v", c.Policy.Shadow, err)
		}
	})
	for _, tc := range []struct{ name, shadow, want string }{
		{"a shadow without bundles is refused", "  shadow: {sample: 0.5}\n", "policy.shadow.bundles: at least one bundle is required"},
		{"a missing shadow bundle is refused", "  shadow: {bundles: [{name: c, path: nope}]}\n", "policy.shadow.bundles[0].path: stat"},
		{"a shadow bundle name used twice is refused", "  shadow: {bundles: [{name: c, path: .}, {name: c, path: .}]}\n", `policy.shadow.bundles[1].name: "c" is used twice`},
		{"a zero sample is refused", "  shadow: {bundles: [{name: c, path: .}], sample: 0}\n", "policy.shadow.sample: 0 is out of range (want >0..1)"},
		{"a sample above 1 is refused", "  shadow: {bundles: [{name: c, path: .}], sample: 1.5}\n", "policy.shadow.sample: 1.5 is out of range"},
		{"a zero queue is refused", "  shadow: {bundles: [{name: c, path: .}], queue_size: 0}\n", "policy.shadow.queue_size: 0 is out of range (want 1..1000000)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tc.shadow)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
