// Package scalebench holds the measurements the BenchmarkScale<Axis>
// benchmarks report next to ns/op (make bench-scale, issue 20): the live
// heap a structure holds, the process's CPU time and the garbage
// collector's share of it. One copy, so that every axis measures alike.
package scalebench

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LiveHeap returns the bytes of live heap objects after a full collection:
// what the structures reachable now hold.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Metrics are the figures a benchmark measured before its loop. b.Loop
// (like b.ResetTimer) drops metrics reported before it starts, so they are
// collected here and reported after the loop.
type Metrics map[string]float64

// Report reports every metric to b; call it after the benchmark loop.
func (m Metrics) Report(b *testing.B) {
	for unit, v := range m {
		b.ReportMetric(v, unit)
	}
}

// Heap records the live heap that build added, in MiB, and per item under
// unit (e.g. "B/route") when items > 0. It returns what build returned,
// which keeps the structure alive across the second measurement.
func Heap[T any](m Metrics, items int, unit string, build func() T) T {
	before := LiveHeap()
	v := build()
	grown := max(float64(LiveHeap())-float64(before), 0)
	m["heap-MiB"] = grown / (1 << 20)
	if items > 0 {
		m[unit] = grown / float64(items)
	}
	return v
}

// Duration records how long f took, in milliseconds, under unit (e.g.
// "build-ms"), and returns what f returned.
func Duration[T any](m Metrics, unit string, f func() T) T {
	t0 := time.Now()
	v := f()
	m[unit] = float64(time.Since(t0).Microseconds()) / 1000
	return v
}

// CPUTime returns the user plus system CPU time the process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcSamples are the runtime/metrics of GC CPU and total CPU, both
// cumulative estimates maintained by the runtime.
var gcSamples = []metrics.Sample{
	{Name: "/cpu/classes/gc/total:cpu-seconds"},
	{Name: "/cpu/classes/total:cpu-seconds"},
}

// GCCPU is a reading of the GC's and the whole process's CPU seconds.
type GCCPU struct{ gc, total float64 }

// ReadGCCPU reads the runtime's cumulative GC and total CPU estimates.
func ReadGCCPU() GCCPU {
	s := make([]metrics.Sample, len(gcSamples))
	copy(s, gcSamples)
	metrics.Read(s)
	return GCCPU{gc: s[0].Value.Float64(), total: s[1].Value.Float64()}
}

// FractionSince is the GC's share of the CPU used since start, in percent.
func (c GCCPU) FractionSince(start GCCPU) float64 {
	total := c.total - start.total
	if total <= 0 {
		return 0
	}
	return 100 * (c.gc - start.gc) / total
}

// RoutesYAML is the routes block of the routes axis, in the config
// language: n anonymous GET routes to upstream, alternately path prefixes
// (/svc<i>/api) and path templates (/svc<i>/users/{id}), one in ten with a
// host. The in-process benchmark and the real binary measure the same
// routes; the last one, a template for even n, is at /svc<n-1>/users/<id>.
func RoutesYAML(n int, upstream string) string {
	var s strings.Builder
	s.WriteString("routes:\n")
	for i := range n {
		match := fmt.Sprintf("path_prefix: \"/svc%d/api\"", i)
		if i%2 == 1 {
			match = fmt.Sprintf("path: \"/svc%d/users/{id}\"", i)
		}
		if i%10 == 0 {
			match += fmt.Sprintf(", host: h%d.example", i)
		}
		fmt.Fprintf(&s, "  - {name: r%d, match: {%s, methods: [GET]}, upstream: %q, authn: {anonymous: true}}\n", i, match, upstream)
	}
	return s.String()
}

// CounterSum is the sum over every series of the counter family name in g
// (0 when g has none).
func CounterSum(g prometheus.Gatherer, name string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum, nil
}
