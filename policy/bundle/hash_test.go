package bundle

import (
	"context"
	"testing"
)

func TestContentHash(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		".manifest":            manifest,
		"portcullis/a.rego":    "package portcullis\n\nallow := true\n",
		"portcullis/b.rego":    "package portcullis\n\ndeny := false\n",
		"portcullis/data.json": `{"portcullis": {"n": 1}}`,
	}
	with := func(k, v string) map[string]string {
		m := make(map[string]string, len(base))
		for a, b := range base {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	load := func(t *testing.T, files map[string]string) string {
		t.Helper()
		dir := writeFiles(t, t.TempDir(), files)
		ls, err := Load(context.Background(), []Source{{Path: dir}}, Options{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls[0].Hash) != 64 {
			t.Fatalf("hash %q is not hex SHA-256", ls[0].Hash)
		}
		return ls[0].Hash
	}
	want := load(t, base)
	t.Run("the same files hash the same", func(t *testing.T) {
		t.Parallel()
		if got := load(t, base); got != want {
			t.Errorf("hash %s, want %s", got, want)
		}
	})
	t.Run("a tarball of the same files in any order hashes as the directory", func(t *testing.T) {
		t.Parallel()
		raw := make(map[string][]byte, len(base))
		for k, v := range base {
			raw[k] = []byte(v)
		}
		for range 3 { // map order: a new file order each time
			ls, err := Load(context.Background(), []Source{{Path: tarGz(t, raw)}}, Options{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if ls[0].Hash != want {
				t.Errorf("tarball hash %s, want %s", ls[0].Hash, want)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"a changed rule changes it", with("portcullis/a.rego", "package portcullis\n\nallow := false\n")},
		{"a whitespace change in Rego changes it", with("portcullis/a.rego", "package portcullis\n\nallow := true\n\n")},
		{"a renamed file changes it", with("portcullis/b.rego", "")},
		{"a changed data value changes it", with("portcullis/data.json", `{"portcullis": {"n": 2}}`)},
		{"a changed revision changes it", with(".manifest", `{"revision": "r2", "roots": ["portcullis"]}`)},
		{"a new test file changes it", with("portcullis/a_test.rego", "package portcullis\n\ntest_a if allow\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := load(t, tc.files); got == want {
				t.Errorf("hash unchanged: %s", got)
			}
		})
	}
	t.Run("reformatted data hashes the same", func(t *testing.T) {
		t.Parallel()
		if got := load(t, with("portcullis/data.json", "{\n  \"portcullis\": {\"n\":1}\n}\n")); got != want {
			t.Errorf("hash %s, want %s", got, want)
		}
	})
}
