package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/policy"
)

// collector is a fake decision-log collector on 127.0.0.1.
type collector struct {
	srv     *httptest.Server
	down    atomic.Bool  // answer 503
	reject  atomic.Int32 // answer 413 to this many more batches
	mu      sync.Mutex
	ids     []string         // decision_ids in arrival order
	events  []map[string]any // the events
	reqs    []*http.Request  // headers of every request
	bodies  [][]byte         // raw bodies as received
	batches int
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Clone(context.Background()))
	c.bodies = append(c.bodies, raw)
	c.mu.Unlock()
	if c.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if c.reject.Add(-1) >= 0 {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	var evs []map[string]any
	if r.Header.Get("Content-Type") == "application/json" {
		err = json.Unmarshal(body, &evs)
	} else {
		for line := range strings.Lines(string(body)) {
			var ev map[string]any
			if err = json.Unmarshal([]byte(line), &ev); err != nil {
				break
			}
			evs = append(evs, ev)
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	for _, ev := range evs {
		id, _ := ev["decision_id"].(string)
		c.ids = append(c.ids, id)
		c.events = append(c.events, ev)
	}
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// waitFor waits until the collector holds n events (a bound for a hung
// test, not a timing assertion).
func (c *collector) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := c.received()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector has %d events, want %d", len(got), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// testHTTP returns fast HTTP options for c.
func testHTTP(c *collector) *HTTPOptions {
	o := validHTTP(c.srv.URL + "/logs")
	o.AllowInsecureHTTP = true
	o.BatchEvents = 50
	o.FlushInterval = 5 * time.Millisecond
	o.MaxRetryDelay = 10 * time.Millisecond
	return o
}

// validHTTP returns HTTP options that pass the checks, sending to url.
func validHTTP(url string) *HTTPOptions {
	return &HTTPOptions{
		URL: url, Format: FormatNDJSON, OnFull: OnFullDropOldest,
		BatchEvents: 100, BatchBytes: 1 << 20, QueueEvents: 20000, SpoolMaxBytes: 1 << 30,
		FlushInterval: time.Second, Timeout: 5 * time.Second, MaxRetryDelay: time.Second,
	}
}

// withHTTP returns Options with validHTTP(url) changed by mod.
func withHTTP(url string, mod func(o *HTTPOptions)) Options {
	o := validHTTP(url)
	mod(o)
	return Options{HTTP: o}
}

// newTestLogger builds a Logger with everything sampled and its own registry.
func newTestLogger(t *testing.T, o Options) *Logger {
	t.Helper()
	o.SampleAllow, o.SampleDeny = 1, 1
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	o.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	l, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func closeLogger(t *testing.T, l *Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// logN logs n events with ids prefix-0000.. in order and returns the ids.
func logN(l *Logger, prefix string, n int) []string {
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
		l.Log(context.Background(), &Event{DecisionID: ids[i], Path: "portcullis/authz/decision", Allow: i%2 == 0,
			Input: map[string]any{"n": i, "pad": strings.Repeat("x", 100)}})
	}
	return ids
}

// syncBuffer is a bytes.Buffer safe for the stream goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// value reads a counter or gauge (client_golang's testutil needs a module
// go.mod does not have).
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func policyUpsert(path string, v any) policy.MaskOp {
	return policy.MaskOp{Op: "upsert", Path: path, Value: v}
}
