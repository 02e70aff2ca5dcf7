package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/scalebench"
	"github.com/portcullis/portcullis/policy"
)

// dataPolicy reads one user's entry of the data (an indexed lookup by the
// subject) and one ACL entry by position, as a role/ownership policy does.
const dataPolicy = `decision := {"allow": allow}

default allow := false

allow if {
	u := data.portcullis.app.users[input.identity.subject]
	"reader" in u.roles
	data.portcullis.app.acl[7].methods[_] == input.request.method
}
`

// writeDataBundle writes a bundle whose data.json holds about mib MiB in a
// realistic shape: a user→{roles, team, quota, active} map and a resource
// ACL list. It returns the bundle directory and the data.json size.
func writeDataBundle(t testing.TB, mib float64) (string, int64) {
	t.Helper()
	dir := authzBundle(t, "d", dataPolicy)
	var sb strings.Builder
	target := int(mib * (1 << 20))
	sb.WriteString(`{"portcullis": {"app": {"users": {`)
	half := target / 2
	for i := 0; sb.Len() < half || i == 0; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"user-%07d": {"roles": ["reader", "team-%d"], "team": "team-%d", "quota": %d, "active": %t, "email": "user-%07d@example.com"}`,
			i, i%97, i%97, 1000+i%5000, i%3 != 0, i)
	}
	sb.WriteString(`}, "acl": [`)
	for i := 0; sb.Len() < target || i < 10; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"resource": "/api/v1/resources/%d", "owner": "user-%07d", "users": ["user-%07d", "user-%07d"], "methods": ["GET", "HEAD"], "weight": %d.5}`,
			i, i, i+1, i+2, i%100)
	}
	sb.WriteString(`]}}}`)
	p := filepath.Join(dir, "data.json")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, int64(sb.Len())
}

func dataInput() *policy.Input {
	in := typicalInput()
	in.Identity.Subject = "user-0000004"
	return in
}

// peakSampler records the largest heap seen while it runs.
type peakSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func samplePeak() *peakSampler {
	s := &peakSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > s.peak.Load() {
				s.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *peakSampler) end() uint64 {
	close(s.stop)
	s.done.Wait()
	return s.peak.Load()
}

// BenchmarkDataBuild builds an engine over bundle data of 1 and 10 MiB
// (PORTCULLIS_DATA_MIB, e.g. "1,10,100", for others) while evaluations run
// on another engine, and reports the live heap the new engine keeps, the
// peak heap of a build and the evaluations' p99 during the builds beside
// their p99 without one: what a reload of that much data costs.
func BenchmarkDataBuild(b *testing.B) {
	sizes := os.Getenv("PORTCULLIS_DATA_MIB")
	if sizes == "" {
		sizes = "1,10"
	}
	small, _ := writeDataBundle(b, 0.01)
	live := newEngine(b, Options{Sources: sources(small)})
	in := dataInput()
	for _, sz := range strings.Split(sizes, ",") {
		mib, err := strconv.ParseFloat(sz, 64)
		if err != nil {
			b.Fatal(err)
		}
		dir, n := writeDataBundle(b, mib)
		b.Run(fmt.Sprintf("data=%sMiB", sz), func(b *testing.B) {
			quiet := evalsWhile(b, live, in, func() { time.Sleep(200 * time.Millisecond) })
			base := scalebench.LiveHeap()
			var e *Engine
			var pk uint64
			b.ResetTimer()
			busy := evalsWhile(b, live, in, func() {
				peak := samplePeak()
				for range b.N {
					e = newEngine(b, Options{Sources: sources(dir)})
				}
				pk = peak.end()
			})
			b.StopTimer()
			if d := e.Evaluate(context.Background(), in); !d.Allow {
				b.Fatalf("denied: %v", d.Err)
			}
			held := scalebench.LiveHeap() - base
			b.ReportMetric(float64(held)/float64(n), "held-B/data-byte")
			b.ReportMetric(float64(pk-base)/(1<<20), "peak-MiB")
			b.ReportMetric(float64(quiet)/1e6, "eval-p99-quiet-ms")
			b.ReportMetric(float64(busy)/1e6, "eval-p99-building-ms")
			runtime.KeepAlive(e)
			debug.FreeOSMemory()
		})
	}
}

// evalsWhile evaluates on e from two goroutines, 200 µs apart, while
// during runs, and returns their p99 latency.
func evalsWhile(tb testing.TB, e *Engine, in *policy.Input, during func()) time.Duration {
	var lat []time.Duration
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			var own []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, own...)
					mu.Unlock()
					return
				default:
				}
				st := time.Now()
				if d := e.Evaluate(context.Background(), in); !d.Allow {
					tb.Errorf("denied: %v", d.Err)
				}
				own = append(own, time.Since(st))
				time.Sleep(200 * time.Microsecond)
			}
		})
	}
	during()
	close(stop)
	wg.Wait()
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[int(0.99*float64(len(lat)-1))]
}
