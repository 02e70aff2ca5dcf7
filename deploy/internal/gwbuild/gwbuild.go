// Package gwbuild builds the gateway binary for the deploy module's tests.
package gwbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Root returns the gateway repository's root, the first parent of the
// working directory holding cmd/portcullis.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cmd", "portcullis")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("gwbuild: no parent directory holds cmd/portcullis")
		}
		dir = parent
	}
}

// Binary builds the gateway as `make image` does, static and with
// -trimpath, from the repository's own module (not the deploy module, whose
// dependency versions differ), into a temporary directory.
func Binary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portcullis")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/portcullis")
	cmd.Dir = Root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
