package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
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

// TestMeasureDataSize prints, for bundle data of each size in
// PORTCULLIS_DATA_MIB (e.g. "1,10,100"), the live heap the engine keeps,
// the peak heap while it is built, the build time, and the latency of
// evaluations running on another engine while it is built. It measures
// and asserts nothing but that the policy decides as written; it is
// skipped unless the variable is set.
func TestMeasureDataSize(t *testing.T) {
	sizes := os.Getenv("PORTCULLIS_DATA_MIB")
	if sizes == "" {
		t.Skip("set PORTCULLIS_DATA_MIB=1,10,100 to measure")
	}
	ctx := context.Background()
	small, _ := writeDataBundle(t, 0.01)
	live := newEngine(t, Options{Sources: sources(small)})
	in := dataInput()
	for _, s := range strings.Split(sizes, ",") {
		mib, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		dir, n := writeDataBundle(t, mib)
		base := scalebench.LiveHeap()

		quiet := evalsWhile(t, live, in, func() { time.Sleep(time.Second) })
		var e *Engine
		var build, cpu time.Duration
		var pk, allocs uint64
		var allocMiB float64
		var gcs uint32
		busy := evalsWhile(t, live, in, func() {
			peak := samplePeak()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			start, cpu0 := time.Now(), scalebench.CPUTime()
			e = newEngine(t, Options{Sources: sources(dir)})
			build, cpu = time.Since(start), scalebench.CPUTime()-cpu0
			runtime.ReadMemStats(&ms1)
			pk = peak.end()
			allocMiB, allocs = float64(ms1.TotalAlloc-ms0.TotalAlloc)/(1<<20), ms1.Mallocs-ms0.Mallocs
			gcs = ms1.NumGC - ms0.NumGC
		})
		held := scalebench.LiveHeap() - base
		if d := e.Evaluate(ctx, in); !d.Allow {
			t.Fatalf("denied: %v", d.Err)
		}
		t.Logf("data %6.1f MiB: held %7.1f MiB (%.1fx), peak +%7.1f MiB, build %6.2fs (process CPU %6.2fs, allocated %.0f MiB in %d objects, %d GCs, the evaluations' included); evals quiet %s, during build %s",
			float64(n)/(1<<20), float64(held)/(1<<20), float64(held)/float64(n), float64(pk-base)/(1<<20), build.Seconds(), cpu.Seconds(),
			allocMiB, allocs, gcs, quiet, busy)
		runtime.KeepAlive(e)
		debug.FreeOSMemory()
	}
}

// evalsWhile evaluates on e from two goroutines, 200 µs apart, while
// during runs, and summarizes their latency.
func evalsWhile(t *testing.T, e *Engine, in *policy.Input, during func()) string {
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
					t.Errorf("denied: %v", d.Err)
				}
				own = append(own, time.Since(st))
				time.Sleep(200 * time.Microsecond)
			}
		})
	}
	during()
	close(stop)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))].Round(time.Microsecond) }
	return fmt.Sprintf("n=%d p50 %v p99 %v max %v", len(lat), p(0.5), p(0.99), lat[len(lat)-1].Round(time.Microsecond))
}
