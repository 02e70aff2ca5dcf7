package watch

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// calls counts OnChange calls and signals each one.
type calls struct {
	n  atomic.Int32
	ch chan struct{}
}

func newWatcher(t *testing.T, debounce time.Duration, paths ...string) *calls {
	t.Helper()
	c := &calls{ch: make(chan struct{}, 100)}
	w, err := New(Options{Paths: paths, Debounce: debounce, OnChange: func() {
		c.n.Add(1)
		c.ch <- struct{}{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return c
}

// wait fails the test unless OnChange runs; the bound only catches a
// watcher that never fires, it asserts nothing about speed.
func (c *calls) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("OnChange not called after %s", what)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBurstOfWritesIsDebounced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newWatcher(t, 500*time.Millisecond, dir)
	const writes = 30
	for i := range writes {
		write(t, filepath.Join(dir, "authz.rego"), strconv.Itoa(i))
	}
	c.wait(t, "a burst of writes")
	if n := c.n.Load(); n >= writes {
		t.Errorf("OnChange called %d times for %d writes", n, writes)
	}
}

func TestRenameIntoPlaceIsSeen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		watch func(dir string) string
	}{
		{"in a watched directory", func(dir string) string { return dir }},
		{"of a watched file", func(dir string) string { return filepath.Join(dir, "bundle.tar.gz") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, "bundle.tar.gz")
			write(t, target, "old")
			c := newWatcher(t, 20*time.Millisecond, tc.watch(dir))
			tmp := filepath.Join(dir, ".tmp-upload")
			write(t, tmp, "new")
			if err := os.Rename(tmp, target); err != nil {
				t.Fatal(err)
			}
			c.wait(t, "rename into place")
		})
	}
}

func TestUnrelatedFilesNextToAWatchedFileAreIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "bundle.tar.gz")
	write(t, target, "x")
	c := newWatcher(t, 300*time.Millisecond, target)
	write(t, filepath.Join(dir, "other.txt"), "noise")
	write(t, target, "y") // a relevant event after the noise
	c.wait(t, "a write to the watched file")
	if w := c.n.Load(); w != 1 {
		t.Errorf("OnChange called %d times, want 1", w)
	}
}

func TestNewSubdirectoryIsWatched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newWatcher(t, 20*time.Millisecond, dir)
	sub := filepath.Join(dir, "system", "log")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	c.wait(t, "creating a subdirectory")
	// Let any events of the mkdir burst drain before the real check.
	time.Sleep(100 * time.Millisecond)
	for len(c.ch) > 0 {
		<-c.ch
	}
	write(t, filepath.Join(sub, "mask.rego"), "package system.log")
	c.wait(t, "writing into the new subdirectory")
}

func TestKubernetesConfigMapSwapIsSeen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_04_01")
	if err := os.Mkdir(v1, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(v1, "authz.rego"), "v1")
	must(t, os.Symlink("..2026_04_01", filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "authz.rego"), filepath.Join(dir, "authz.rego")))
	c := newWatcher(t, 20*time.Millisecond, filepath.Join(dir, "authz.rego"))

	// The kubelet's atomic writer: new timestamped dir, new ..data_tmp
	// symlink, renamed over ..data.
	v2 := filepath.Join(dir, "..2026_04_02")
	must(t, os.Mkdir(v2, 0o755))
	write(t, filepath.Join(v2, "authz.rego"), "v2")
	must(t, os.Symlink("..2026_04_02", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	c.wait(t, "a ConfigMap symlink swap")
}

func TestCloseIsIdempotentAndNewRejectsMissingPaths(t *testing.T) {
	t.Parallel()
	w, err := New(Options{Paths: []string{t.TempDir()}, OnChange: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	_ = w.Close()
	if _, err := New(Options{Paths: []string{filepath.Join(t.TempDir(), "missing")}, OnChange: func() {}}); err == nil {
		t.Error("a missing path was accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
