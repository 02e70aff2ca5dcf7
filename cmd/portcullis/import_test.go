package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "_format_version: \"3.0\"\nservices:\n  - name: s\n    url: http://b:80\n    routes:\n      - paths: [/]\n")
	partial := write("partial.yaml", "_format_version: \"3.0\"\nservices:\n  - name: s\n    url: http://b:80\n    routes:\n      - paths: [/]\n    plugins:\n      - name: bot-detection\n")
	notKong := write("not.yaml", "- a\n")
	out := filepath.Join(dir, "out")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"a complete import exits 0, flags after the files", []string{"import", "kong", good, "--out", out + "1"}, 0, ""},
		{"flags before the files work too", []string{"import", "kong", "--out", out + "2", good}, 0, ""},
		{"an item that did not map exits 3 and names its line", []string{"import", "kong", partial, "--out", out + "3"}, 3, "partial.yaml:8: plugins.bot-detection: not mapped"},
		{"no --out is a usage error", []string{"import", "kong", good}, 2, "want at least one FILE and --out DIR"},
		{"no file is a usage error", []string{"import", "apisix", "--out", out + "4"}, 2, "want at least one FILE"},
		{"a missing file exits 2", []string{"import", "kong", filepath.Join(dir, "nope.yaml"), "--out", out + "5"}, 2, "nope.yaml"},
		{"input of another gateway exits 2", []string{"import", "kong", notKong, "--out", out + "6"}, 2, "not a YAML mapping"},
		{"an unknown source is a usage error", []string{"import", "nginx", good, "--out", out + "7"}, 2, "unknown subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := run(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want it to contain %q", code, tc.code, errOut, tc.stderr)
			}
		})
	}
}
