package bundle

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONErrorsAreLocated checks that a manifest or data.json that OPA
// refuses is reported as file:line:col.
func TestJSONErrorsAreLocated(t *testing.T) {
	t.Parallel()
	rego := "package portcullis.authz\n\ndecision := true\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		tar   bool
		want  string // with {dir} for the bundle path
	}{
		{name: "a truncated manifest", files: map[string]string{".manifest": `{"roots": ["portcullis"]`, "a.rego": rego},
			want: "{dir}/.manifest:1:25: unexpected end of JSON input"},
		{name: "a wrongly typed manifest field", files: map[string]string{".manifest": "{\n  \"revision\": 5\n}", "a.rego": rego},
			want: "{dir}/.manifest:2:15: revision: want string, got number"},
		{name: "a trailing comma in data.json", files: map[string]string{".manifest": `{"roots": ["portcullis"]}`, "a.rego": rego,
			"portcullis/data.json": "{\n  \"a\": [1, 2,\n  ]\n}\n"},
			want: "{dir}/portcullis/data.json:3:3: invalid character ']' looking for beginning of value"},
		{name: "a broken data.json in a tarball", tar: true, files: map[string]string{"/.manifest": `{"roots": ["portcullis"]}`, "/a.rego": rego,
			"/portcullis/data.json": "{\"a\": tru}"},
			want: "{dir}/portcullis/data.json:1:10: invalid character '}' in literal true (expecting 'e')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var src string
			if tc.tar {
				files := map[string][]byte{}
				for k, v := range tc.files {
					files[k] = []byte(v)
				}
				src = tarGz(t, files)
			} else {
				src = writeFiles(t, t.TempDir(), tc.files)
			}
			_, err := Load(context.Background(), []Source{{Path: src}}, Options{MaxBytes: 1 << 20})
			want := strings.ReplaceAll(tc.want, "{dir}", filepath.Clean(src))
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
		})
	}
}

// FuzzCheckJSON checks that locating any JSON error never panics and
// always gives a position inside the file or just past its end.
func FuzzCheckJSON(f *testing.F) {
	f.Add([]byte(`{"roots": ["a"]`), true)
	f.Add([]byte("{\n\"a\": [1,\n]}"), false)
	f.Fuzz(func(t *testing.T, b []byte, manifest bool) {
		base := "data.json"
		if manifest {
			base = ".manifest"
		}
		err := checkJSON("f", base, b)
		if err == nil {
			return
		}
		e := err.(*JSONError)
		if e.Line < 1 || e.Col < 1 || e.Line > strings.Count(string(b), "\n")+1 || e.Col > len(b)+1 {
			t.Fatalf("position %d:%d outside %q", e.Line, e.Col, b)
		}
	})
}
