// Package gctune sets the garbage collector's defaults of portcullis run
// (README "Operations"), shared with the benchmark's bare proxy so that
// both run with the same collector.
package gctune

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultGCPercent is the garbage collector's target heap growth of
// `portcullis run` when GOGC is not set: 200 % instead of Go's 100 %. Most
// of what a gateway allocates lives for one request, so collecting half as
// often saves CPU and shortens the latency tail (make bench: about a
// quarter less CPU per request for a JWT route), for a heap of at most
// three times the live data instead of two (README "Performance").
const DefaultGCPercent = 200

// memoryLimitShare of a container's memory limit becomes the collector's
// soft limit, so the larger heap target never pushes the process into the
// OOM killer: near the limit the collector runs as often as it must.
const memoryLimitShare = 0.9

// CgroupMemoryFiles hold the memory limit of the process's container,
// cgroup v2 first, then v1.
var CgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// Settings is what Apply decided, for the startup log.
type Settings struct {
	GCPercent   string // "GOGC=…" when the environment sets it
	MemoryLimit string // bytes, "GOMEMLIMIT=…", or "none"
}

// Apply applies the collector defaults unless the environment chose:
// GOGC unset → DefaultGCPercent; GOMEMLIMIT unset and a container memory
// limit found in limitFiles → memoryLimitShare of it.
func Apply(getenv func(string) string, limitFiles []string) Settings {
	var s Settings
	if v := getenv("GOGC"); v != "" {
		s.GCPercent = "GOGC=" + v
	} else {
		debug.SetGCPercent(DefaultGCPercent)
		s.GCPercent = strconv.Itoa(DefaultGCPercent)
	}
	switch limit, ok := containerMemoryLimit(limitFiles); {
	case getenv("GOMEMLIMIT") != "":
		s.MemoryLimit = "GOMEMLIMIT=" + getenv("GOMEMLIMIT")
	case ok:
		soft := int64(float64(limit) * memoryLimitShare)
		debug.SetMemoryLimit(soft)
		s.MemoryLimit = strconv.FormatInt(soft, 10)
	default:
		s.MemoryLimit = "none"
	}
	return s
}

// containerMemoryLimit reads the first of files that holds a limit; "max"
// (v2) and v1's huge "unlimited" value are no limit.
func containerMemoryLimit(files []string) (int64, bool) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= math.MaxInt64/2 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
