package decisionlog

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/scalebench"
)

// BenchmarkScaleDecisionLog is the decision-log axis of make bench-scale
// (issue 20): events paced at rate per second to a file and to the HTTP
// sink (a loopback collector that discards what it receives), as a
// gateway under that load logs them. An op is one event, so ns/op is the
// pacing; the figures are the process's CPU per event, its share of one
// core (cpu-%), the events the sink dropped (drops) and, after Close, the
// share delivered (delivered-%).
func BenchmarkScaleDecisionLog(b *testing.B) {
	for _, sink := range []string{"file", "http"} {
		for _, rate := range []int{1000, 5000, 10000, 20000} {
			b.Run(fmt.Sprintf("sink=%s/rate=%d", sink, rate), func(b *testing.B) {
				reg := prometheus.NewRegistry()
				s := openScaleSink(b, sink, Env{Registerer: reg})
				l, err := New(Options{SampleAllow: 1, SampleDeny: 1}, s)
				if err != nil {
					b.Fatal(err)
				}
				ev, ctx := goldenEvent(), context.Background()
				every := time.Second / time.Duration(rate)
				cpu0, start, n := scalebench.CPUTime(), time.Now(), 0
				for b.Loop() {
					// Sleep only when a millisecond ahead: shorter sleeps
					// overshoot and would cap the rate below the target.
					if wait := time.Until(start.Add(time.Duration(n) * every)); wait > time.Millisecond {
						time.Sleep(wait)
					}
					l.Log(ctx, ev)
					n++
				}
				cpu, wall := scalebench.CPUTime()-cpu0, time.Since(start)
				closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if err := l.Close(closeCtx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
				b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
				b.ReportMetric(float64(n)/wall.Seconds(), "events/s")
				b.ReportMetric(sumOf(b, reg, "portcullis_decisionlog_drops_total"), "drops")
				b.ReportMetric(100*sumOf(b, reg, "portcullis_decisionlog_delivered_total")/float64(n), "delivered-%")
			})
		}
	}
}

// openScaleSink opens a file sink in a temporary directory or an HTTP sink
// to a discarding loopback collector.
func openScaleSink(b *testing.B, kind string, env Env) Sink {
	var (
		s   Sink
		err error
	)
	switch kind {
	case "file":
		s, err = testFile(filepath.Join(b.TempDir(), "decisions.log")).Open(env)
	default:
		c := &collector{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))}
		b.Cleanup(c.srv.Close)
		o := testHTTP(c)
		// The gateway's defaults (decision_log.http), not the fast
		// flushing the unit tests use.
		o.BatchEvents, o.FlushInterval, o.MaxRetryDelay = 500, time.Second, 30*time.Second
		s, err = o.Open(env)
	}
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// sumOf is scalebench.CounterSum, failing the benchmark on error.
func sumOf(b *testing.B, reg prometheus.Gatherer, name string) float64 {
	v, err := scalebench.CounterSum(reg, name)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
