package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, s := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarGz builds a .tar.gz with the given files.
func tarGz(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const manifest = `{"revision": "r1", "roots": ["portcullis"]}`

func TestLoad(t *testing.T) {
	t.Parallel()
	zeros := bytes.Repeat([]byte{' '}, 600)
	tests := []struct {
		name    string
		src     func(t *testing.T) string
		max     int64
		wantErr string
		check   func(t *testing.T, l *Loaded)
	}{
		{name: "a directory bundle splits policies, tests and data", src: func(t *testing.T) string {
			return writeFiles(t, t.TempDir(), map[string]string{
				".manifest": manifest, "authz.rego": "package portcullis.authz\n\nallow := true\n",
				"authz_test.rego":                "package portcullis.authz_test\n\ntest_x if true\n",
				"portcullis/consumers/data.json": `{"a": 1}`, "portcullis/limits/data.yaml": "b: 2\n",
			})
		}, check: func(t *testing.T, l *Loaded) {
			if l.Revision != "r1" || len(l.Modules) != 1 || len(l.Tests) != 1 || !strings.HasSuffix(l.Modules[0].Path, "authz.rego") {
				t.Errorf("loaded = %+v", l)
			}
			p, _ := l.Data["portcullis"].(map[string]any)
			if p["consumers"] == nil || p["limits"] == nil {
				t.Errorf("data = %v", l.Data)
			}
		}},
		{name: "data outside the roots is refused", src: func(t *testing.T) string {
			return writeFiles(t, t.TempDir(), map[string]string{".manifest": manifest, "data.json": `{"other": {"x": 1}}`})
		}, wantErr: "do not permit data"},
		{name: "a Kubernetes ConfigMap layout loads each file once", src: func(t *testing.T) string {
			dir := writeFiles(t, t.TempDir(), map[string]string{
				"..2026_04_01/.manifest":  manifest,
				"..2026_04_01/authz.rego": "package portcullis.authz\n\nallow := true\n",
			})
			for _, l := range [][2]string{{"..2026_04_01", "..data"}, {"..data/.manifest", ".manifest"}, {"..data/authz.rego", "authz.rego"}} {
				if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}, check: func(t *testing.T, l *Loaded) {
			if len(l.Modules) != 1 || l.Revision != "r1" {
				t.Errorf("modules %d, revision %q", len(l.Modules), l.Revision)
			}
		}},
		{name: "a directory over the size cap is refused", max: 500, src: func(t *testing.T) string {
			return writeFiles(t, t.TempDir(), map[string]string{".manifest": manifest, "a/data.json": `{"portcullis": {"a": "` + string(zeros[:300]) + `"}}`, "b/x.rego": "package portcullis.b\n\n# " + string(zeros[:300])})
		}, wantErr: "exceeds 500 bytes"},
		{name: "a tarball that inflates past the cap is refused", max: 1000, src: func(t *testing.T) string {
			files := map[string][]byte{"/.manifest": []byte(manifest)}
			for i := range 5 {
				files["/f"+string(rune('a'+i))+".txt"] = zeros // each file under the cap, the sum over it
			}
			return tarGz(t, files)
		}, wantErr: "uncompressed"},
		{name: "a tarball bundle loads", src: func(t *testing.T) string {
			return tarGz(t, map[string][]byte{"/.manifest": []byte(manifest), "/authz.rego": []byte("package portcullis.authz\n\nallow := true\n")})
		}, check: func(t *testing.T, l *Loaded) {
			if len(l.Modules) != 1 || l.Revision != "r1" {
				t.Errorf("loaded = %+v", l)
			}
		}},
		{name: "a parse error names the file and line", src: func(t *testing.T) string {
			return writeFiles(t, t.TempDir(), map[string]string{".manifest": manifest, "authz.rego": "package portcullis.authz\n\nallow if {\n"})
		}, wantErr: "authz.rego:4: rego_parse_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.max == 0 {
				tc.max = 1 << 30
			}
			ls, err := Load(context.Background(), []Source{{Path: tc.src(t)}}, Options{MaxBytes: tc.max})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, ls[0])
			}
		})
	}
}

func TestCheckRoots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		a, b    []string
		overlap bool
	}{
		{"disjoint roots are fine", []string{"portcullis"}, []string{"system"}, false},
		{"a nested root overlaps", []string{"portcullis"}, []string{"portcullis/extra"}, true},
		{"the empty root overlaps everything", []string{""}, []string{"system"}, true},
		{"a shared prefix that is not a segment does not overlap", []string{"port"}, []string{"portcullis"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckRoots([]*Loaded{{Name: "a", Roots: tc.a}, {Name: "b", Roots: tc.b}})
			if (err != nil) != tc.overlap {
				t.Errorf("CheckRoots = %v, want overlap %v", err, tc.overlap)
			}
		})
	}
}
