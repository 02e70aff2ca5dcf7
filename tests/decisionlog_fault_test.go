package tests

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// answered is a decision the load generator saw answered, and when.
type answered struct {
	id string
	at time.Time
}

// loadUntil sends GETs with the given concurrency until stop is closed and
// returns every answered request's decision id with its time. Requests
// that fail (the gateway was killed) are not answered, so not counted.
func loadUntil(g *gateway, path string, concurrency int, stop <-chan struct{}) []answered {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var out []answered
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.proxy + path)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if id := resp.Header.Get("X-Decision-Id"); id != "" {
					mu.Lock()
					out = append(out, answered{id, time.Now()})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// TestDecisionLogSIGKILLWithHangingCollector is the fault the issue
// measured at 2 706 lost decisions: the collector accepts the batch and
// never answers, the gateway is killed. With the spool, at most the last
// flush interval of decisions may be lost: each tick of a send outstanding
// for a flush interval spools the batch in flight and the queue.
func TestDecisionLogSIGKILLWithHangingCollector(t *testing.T) {
	const flush = 200 * time.Millisecond
	up, col := newUpstream(t, "api"), newCollector(t)
	spool := t.TempDir()
	col.setMode(collectorHang)
	cfg := dlRouteConfig(up, fmt.Sprintf(`  http:
    url: %s
    flush_interval: %s
    timeout: 60s
    queue_events: 100000
    max_retry_delay: 200ms
    spool_dir: %s`, col.URL, flush, spool))
	first := startGateway(t, cfg)

	stop := make(chan struct{})
	res := make(chan []answered)
	go func() { res <- loadUntil(first, "/api/fault", 4, stop) }()
	time.Sleep(3 * time.Second) // load while every send hangs
	first.signal(syscall.SIGKILL)
	killed := time.Now()
	<-first.done
	close(stop)
	load := <-res
	if len(load) < 100 {
		t.Fatalf("only %d requests answered before the kill", len(load))
	}

	col.setMode(collectorOK)
	startGateway(t, cfg)
	// (queue_events is large so that its high-water spill, which bounds
	// the loss otherwise, does not hide a failure of the flush-interval one.)
	// Every answered decision has an event; wait until the spool is
	// replayed, then count what the collector holds.
	deadline := time.Now().Add(30 * time.Second)
	for spooledBatches(spool) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * flush) // a batch in flight when the spool emptied
	got := byID(col.snapshot())
	assertSameCopies(t, got)
	lost, recent := 0, 0
	for _, a := range load {
		// Decisions answered in the last flush interval (doubled, for
		// a tick delayed on a busy machine) may be lost.
		window := a.at.After(killed.Add(-2*flush - 100*time.Millisecond))
		if window {
			recent++
		}
		if len(got[a.id]) == 0 {
			lost++
			if !window {
				t.Errorf("decision %s answered %v before the kill is lost", a.id, killed.Sub(a.at))
			}
		}
	}
	t.Logf("SIGKILL with a hanging collector: %d decisions answered in %v, %d lost (%d answered in the last 2 flush intervals)",
		len(load), 3*time.Second, lost, recent)
}

// spooledBatches counts the batch files in a spool directory; a temp file
// the kill interrupted stays until it is a minute old.
func spooledBatches(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	return len(files)
}
