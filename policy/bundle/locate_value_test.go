package bundle

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLocateValue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := `{
  "portcullis": {
    "consumers": {
      "a": {"groups": ["x"],
            "keys": [
              {"id": "k1"},
              {"id": "k2", "expires": "2030"}
            ]},
      "b": {"keys": []}
    }
  }
}
`
	nested := `{"limits": {"rate": 5,
  "burst": [1,
    2]}}
`
	for name, body := range map[string]string{"data.json": root, "tenants/acme/data.json": nested, ".hidden/data.json": `{"x": 1}`} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		path []any
		file string
		line int
		ok   bool
	}{
		{"a consumer", []any{"portcullis", "consumers", "b"}, "data.json", 9, true},
		{"a misspelt field of the second key", []any{"portcullis", "consumers", "a", "keys", 1, "expires"}, "data.json", 7, true},
		{"an array item on a line of its own", []any{"portcullis", "consumers", "a", "keys", 0}, "data.json", 6, true},
		{"a group", []any{"portcullis", "consumers", "a", "groups", 0}, "data.json", 4, true},
		{"data in a nested directory", []any{"tenants", "acme", "limits", "burst", 1}, "tenants/acme/data.json", 3, true},
		{"an index past the end", []any{"portcullis", "consumers", "a", "keys", 2}, "", 0, false},
		{"a missing key", []any{"portcullis", "nobody"}, "", 0, false},
		{"a key where an array is", []any{"portcullis", "consumers", "a", "keys", "id"}, "", 0, false},
		{"hidden directories are not bundle data", []any{".hidden", "x"}, "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file, line, ok := LocateValue(dir, tc.path)
			want := ""
			if tc.ok {
				want = filepath.Join(dir, filepath.FromSlash(tc.file))
			}
			if ok != tc.ok || file != want || line != tc.line {
				t.Fatalf("LocateValue = %s:%d %v, want %s:%d %v", file, line, ok, want, tc.line, tc.ok)
			}
		})
	}
	if _, _, ok := LocateValue(filepath.Join(dir, "data.json"), []any{"portcullis"}); ok {
		t.Fatal("a file is not a bundle directory")
	}
}

func FuzzLineOf(f *testing.F) {
	f.Add([]byte(`{"a": [1, {"b": 2}]}`), "a", 1, "b")
	f.Add([]byte(`[`), "", 0, "")
	f.Fuzz(func(t *testing.T, b []byte, k1 string, i int, k2 string) {
		line, ok := lineOf(b, []any{k1, i % 8, k2})
		if ok && (line < 1 || line > 1+len(b)) {
			t.Fatalf("line %d of a %d-byte document", line, len(b))
		}
	})
}
