package gctune

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestApply must not run in parallel: it changes the process's collector
// settings (and restores them).
func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const noLimit = math.MaxInt64 // the runtime's "no limit"
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2 := file("memory.max", "1073741824\n")
	v2max := file("memory.max.unlimited", "max\n")
	v1 := file("memory.limit_in_bytes", "536870912\n")
	v1max := file("memory.limit_in_bytes.unlimited", "9223372036854771712\n")
	tests := []struct {
		name      string
		env       map[string]string
		files     []string
		wantGC    string
		wantLimit string
		gcPercent int   // the collector's setting afterwards
		memLimit  int64 // idem
	}{
		{"defaults outside a container", nil, []string{filepath.Join(dir, "absent")}, "200", "none", 200, noLimit},
		{"90 % of a cgroup v2 limit", nil, []string{v2}, "200", "966367641", 200, 966367641},
		{"an unlimited v2 cgroup has no limit", nil, []string{v2max, v1}, "200", "none", 200, noLimit},
		{"90 % of a cgroup v1 limit", nil, []string{filepath.Join(dir, "absent"), v1}, "200", "483183820", 200, 483183820},
		{"v1's unlimited value is no limit", nil, []string{v1max}, "200", "none", 200, noLimit},
		{"GOGC and GOMEMLIMIT win", map[string]string{"GOGC": "50", "GOMEMLIMIT": "64MiB"}, []string{v2}, "GOGC=50", "GOMEMLIMIT=64MiB", 100, noLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100) // what the runtime starts with
			debug.SetMemoryLimit(noLimit)
			got := Apply(func(k string) string { return tc.env[k] }, tc.files)
			if got.GCPercent != tc.wantGC || got.MemoryLimit != tc.wantLimit {
				t.Fatalf("Apply = %+v, want GC %s, limit %s", got, tc.wantGC, tc.wantLimit)
			}
			if p := debug.SetGCPercent(100); p != tc.gcPercent {
				t.Errorf("GC percent = %d, want %d", p, tc.gcPercent)
			}
			if l := debug.SetMemoryLimit(-1); l != tc.memLimit {
				t.Errorf("memory limit = %d, want %d", l, tc.memLimit)
			}
		})
	}
}
