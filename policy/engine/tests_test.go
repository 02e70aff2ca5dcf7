package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunTests(t *testing.T) {
	t.Parallel()
	failing := writeFiles(t, authzBundle(t, "r", "decision := false"), map[string]string{
		"authz_test.rego": "package portcullis.authz_test\n\nimport data.portcullis.authz\n\ntest_allows if authz.decision\n",
	})
	twoBundles := writeFiles(t, t.TempDir(), map[string]string{
		"a/.manifest":          `{"revision": "a", "roots": ["a"]}`,
		"a/a_test.rego":        "package a.a_test\n\ntest_a if 1 == 1\n",
		"nested/b/.manifest":   `{"revision": "b", "roots": ["b"]}`,
		"nested/b/data.json":   `{"b": {"x": 1}}`,
		"nested/b/b_test.rego": "package b.b_test\n\ntest_b if data.b.x == 1\n",
	})
	looseTest := writeFiles(t, t.TempDir(), map[string]string{
		"x_test.rego": "package x_test\n\ntest_one if 1 == 1\n",
	})
	tests := []struct {
		name    string
		paths   []string
		verbose bool
		ok      bool
		output  string
	}{
		{"the example bundle passes", []string{exampleBundle}, true, true, "PASS: 21/21"},
		{"a failing test fails and is printed", []string{failing}, false, false, "test_allows: FAIL"},
		{"a directory of bundles runs every bundle's tests", []string{twoBundles}, false, true, "PASS: 2/2"},
		{"a single test file runs", []string{looseTest + "/x_test.rego"}, false, true, "PASS: 1/1"},
		{"no tests is not ok", []string{authzBundle(t, "r", "decision := true")}, false, false, "no tests found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ok, err := RunTests(context.Background(), tc.paths, &out, TestOptions{Verbose: tc.verbose, MaxBundleBytes: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || !strings.Contains(out.String(), tc.output) {
				t.Errorf("ok = %v, output:\n%s\nwant ok %v and %q", ok, out.String(), tc.ok, tc.output)
			}
		})
	}
}
