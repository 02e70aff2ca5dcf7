package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHTTPDeliversTenThousandEventsWithUniqueIDs(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	o := testHTTP(c)
	o.BatchEvents = 500
	l := newTestLogger(t, Options{}, o)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1250 {
				l.Log(context.Background(), &Event{Path: "p", Allow: true}) // ids generated
			}
		})
	}
	wg.Wait()
	got := c.waitFor(t, 10000)
	closeLogger(t, l)
	seen := make(map[string]bool, len(got))
	for _, id := range got {
		if id == "" || seen[id] {
			t.Fatalf("id %q empty or duplicated", id)
		}
		seen[id] = true
	}
	if len(seen) != 10000 {
		t.Errorf("%d unique ids, want 10000", len(seen))
	}
	if d := value(l.m.drops.WithLabelValues("http", dropQueueFull)); d != 0 {
		t.Errorf("%v events dropped", d)
	}
}

// checkInOrder fails unless got, without duplicates, is exactly want.
func checkInOrder(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("collector has %d events, want %d (no duplicates expected: it never loses an answer)", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("event %d is %s, want %s: order not kept", i, got[i], want[i])
		}
	}
}

// waitRequests waits until the collector has answered n requests.
func (c *collector) waitRequests(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.reqs)
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector got %d requests, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHTTPOutageThenRecoveryDeliversEverythingInOrder(t *testing.T) {
	t.Parallel()
	for _, spooled := range []bool{true, false} {
		name := "with a spool, the queue overflows to disk"
		if !spooled {
			name = "without a spool, the queue holds the events"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t)
			c.down.Store(true)
			o := testHTTP(c)
			o.BatchEvents = 20
			if spooled {
				o.SpoolDir = t.TempDir()
				// Holds a burst (with room for a slow disk on a loaded machine), not
				// the outage (750 events): only the spool can hold that.
				o.QueueEvents = 400
			}
			l := newTestLogger(t, Options{}, o)
			var want []string
			for round := range 5 {
				want = append(want, logN(l, "r"+string(rune('a'+round)), 150)...)
				c.waitRequests(t, 3*(round+1)) // failures while down
			}
			if spooled && value(l.m.spool.WithLabelValues("http")) == 0 {
				t.Errorf("nothing spooled during the outage")
			}
			c.down.Store(false)
			c.waitFor(t, len(want))
			closeLogger(t, l)
			checkInOrder(t, c.received(), want)
			if value(l.m.retries.WithLabelValues("http")) == 0 {
				t.Errorf("no retries counted")
			}
			if d := value(l.m.drops.WithLabelValues("http", dropQueueFull)) + value(l.m.drops.WithLabelValues("http", dropSpoolFull)); d != 0 {
				t.Errorf("%v events dropped", d)
			}
			if spooled {
				if v := value(l.m.spool.WithLabelValues("http")); v != 0 {
					t.Errorf("spool gauge = %v after replay, want 0", v)
				}
				if left, _ := os.ReadDir(o.SpoolDir); len(left) != 0 {
					t.Errorf("%d files left in the spool", len(left))
				}
			}
		})
	}
}

func TestCloseDuringOutageSpoolsAndTheNextLoggerReplays(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	c.down.Store(true)
	o := testHTTP(c)
	o.SpoolDir = t.TempDir()
	o.FlushInterval = time.Hour // nothing is sent before Close: Close must flush
	l := newTestLogger(t, Options{}, o)
	want := logN(l, "first", 120)
	closeLogger(t, l)
	if n := len(c.received()); n != 0 {
		t.Fatalf("collector stored %d events while down", n)
	}
	files, _ := os.ReadDir(o.SpoolDir)
	if len(files) == 0 {
		t.Fatal("Close spooled nothing")
	}

	c.down.Store(false)
	l2 := newTestLogger(t, Options{}, testHTTPWithSpool(c, o.SpoolDir))
	want = append(want, logN(l2, "second", 30)...)
	c.waitFor(t, len(want))
	closeLogger(t, l2)
	checkInOrder(t, c.received(), want)
}

func testHTTPWithSpool(c *collector, dir string) *HTTPOptions {
	o := testHTTP(c)
	o.SpoolDir = dir
	return o
}

func TestCloseWithoutSpoolDeliversTheQueue(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	o := testHTTP(c)
	o.FlushInterval = time.Hour
	l := newTestLogger(t, Options{}, o)
	want := logN(l, "q", 30) // fewer than a batch: only Close sends them
	closeLogger(t, l)
	checkInOrder(t, c.received(), want)
}

func TestCloseWithoutSpoolCountsWhatItLoses(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	c.down.Store(true)
	o := testHTTP(c)
	o.FlushInterval = time.Hour
	l := newTestLogger(t, Options{}, o)
	logN(l, "q", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = l.Close(ctx)
	if got := value(l.m.drops.WithLabelValues("http", dropShutdown)); got != 30 {
		t.Errorf("shutdown drops = %v, want 30", got)
	}
}

func TestSpoolCapDropOldestCountsDrops(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	c.down.Store(true)
	o := testHTTP(c)
	o.SpoolDir = t.TempDir()
	o.BatchEvents = 10
	o.QueueEvents = 20
	o.SpoolMaxBytes = 8 << 10 // a few batches of ~300-byte events
	l := newTestLogger(t, Options{}, o)
	want := logN(l, "d", 300)
	closeLogger(t, l)
	dropped := int(value(l.m.drops.WithLabelValues("http", dropSpoolFull)) + value(l.m.drops.WithLabelValues("http", dropQueueFull)))
	if dropped == 0 {
		t.Fatal("no drops counted although the spool is far too small")
	}
	var size int64
	files, _ := os.ReadDir(o.SpoolDir)
	for _, f := range files {
		fi, _ := f.Info()
		size += fi.Size()
	}
	if size > o.SpoolMaxBytes {
		t.Errorf("spool holds %d bytes, cap %d", size, o.SpoolMaxBytes)
	}

	c.down.Store(false)
	l2 := newTestLogger(t, Options{}, testHTTPWithSpool(c, o.SpoolDir))
	got := c.waitFor(t, len(want)-dropped)
	closeLogger(t, l2)
	if len(got) != len(want)-dropped {
		t.Errorf("collector has %d events, want %d sent - %d dropped", len(got), len(want), dropped)
	}
	// What survives is in order and ends with the newest event.
	if !slices.IsSorted(got) || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("survivors not the newest in order: first %s, last %s", got[0], got[len(got)-1])
	}
}

func TestFailClosedFlipsAccepting(t *testing.T) {
	t.Parallel()
	for _, spooled := range []bool{false, true} {
		name := "without a spool, a full queue stops accepting"
		if spooled {
			name = "with a full spool, a full queue stops accepting"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t)
			c.down.Store(true)
			o := testHTTP(c)
			o.OnFull = OnFullFailClosed
			o.QueueEvents = 20
			o.BatchEvents = 5
			if spooled {
				o.SpoolDir = t.TempDir()
				o.SpoolMaxBytes = 2 << 10
			}
			l := newTestLogger(t, Options{}, o)
			if !l.Accepting() {
				t.Fatal("not accepting before anything happened")
			}
			var want []string
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; l.Accepting(); i++ {
				if time.Now().After(deadline) {
					t.Fatalf("still accepting after %d events", i)
				}
				want = append(want, logN(l, "f"+string(rune('a'+i/26))+string(rune('a'+i%26)), 1)...)
				time.Sleep(time.Millisecond) // let the sender spool
			}
			c.down.Store(false)
			got := c.waitFor(t, len(want))
			if !l.Accepting() {
				t.Errorf("not accepting after the collector recovered and drained")
			}
			closeLogger(t, l)
			checkInOrder(t, got, want)
		})
	}
}

func TestOPAFormatIsAGzipJSONArray(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	o := testHTTP(c)
	o.Format = FormatOPA
	l := newTestLogger(t, Options{}, o)
	want := logN(l, "o", 7)
	c.waitFor(t, 7)
	closeLogger(t, l)
	c.mu.Lock()
	req, raw := c.reqs[0], c.bodies[0]
	c.mu.Unlock()
	if req.Method != http.MethodPost || req.Header.Get("Content-Encoding") != "gzip" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s with Content-Encoding %q, Content-Type %q", req.Method, req.Header.Get("Content-Encoding"), req.Header.Get("Content-Type"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	plain, _ := io.ReadAll(zr)
	var arr []map[string]any
	if err := json.Unmarshal(plain, &arr); err != nil {
		t.Fatalf("body is not a JSON array: %v", err)
	}
	checkInOrder(t, c.received(), want)
}

func TestCollectorAuthAndEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		set      func(o *HTTPOptions)
		wantAuth string
		wantGzip bool
	}{
		{"a bearer token is sent", func(o *HTTPOptions) { o.BearerToken = "s3cr3t" }, "Bearer s3cr3t", false},
		{"basic credentials are sent", func(o *HTTPOptions) { o.Username, o.Password = "siem", "pw" },
			"Basic " + base64.StdEncoding.EncodeToString([]byte("siem:pw")), false},
		{"gzip ndjson is marked so", func(o *HTTPOptions) { o.Gzip = true }, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t)
			o := testHTTP(c)
			tc.set(o)
			l := newTestLogger(t, Options{}, o)
			logN(l, "a", 3)
			c.waitFor(t, 3)
			closeLogger(t, l)
			c.mu.Lock()
			req := c.reqs[0]
			c.mu.Unlock()
			if got := req.Header.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tc.wantAuth)
			}
			if got := req.Header.Get("Content-Encoding") == "gzip"; got != tc.wantGzip {
				t.Errorf("gzip = %v, want %v", got, tc.wantGzip)
			}
			if ct := req.Header.Get("Content-Type"); ct != "application/x-ndjson" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestTLSCollectorWithCustomCA(t *testing.T) {
	t.Parallel()
	c := &collector{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serve))
	c.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshakes below
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	o := testHTTP(c)
	o.AllowInsecureHTTP = false
	o.CAFile = ca
	l := newTestLogger(t, Options{}, o)
	want := logN(l, "tls", 5)
	c.waitFor(t, 5)
	closeLogger(t, l)
	checkInOrder(t, c.received(), want)

	untrusted := testHTTP(c)
	untrusted.AllowInsecureHTTP = false
	l2 := newTestLogger(t, Options{}, untrusted)
	logN(l2, "x", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = l2.Close(ctx)
	if got := value(l2.m.batches.WithLabelValues("http", "sent")); got != 0 {
		t.Errorf("%v batches sent to a collector whose CA is not trusted", got)
	}
}

// A batch the collector refuses (413 here) must not block every later
// event behind endless retries: it is set aside, counted, and the stream
// goes on.
func TestHTTPRefusedBatchIsSetAsideNotRetried(t *testing.T) {
	t.Parallel()
	for _, withSpool := range []bool{false, true} {
		t.Run(fmt.Sprintf("spool=%v", withSpool), func(t *testing.T) {
			t.Parallel()
			c := newCollector(t)
			c.reject.Store(1)
			o := testHTTP(c)
			o.BatchEvents = 10
			if withSpool {
				o.SpoolDir = t.TempDir()
			}
			l := newTestLogger(t, Options{}, o)
			first := logN(l, "a", 10) // one full batch: refused
			c.waitRequests(t, 1)
			second := logN(l, "b", 10)
			checkInOrder(t, c.waitFor(t, 10), second)
			closeLogger(t, l)
			if d := value(l.m.drops.WithLabelValues("http", dropRejected)); d != float64(len(first)) {
				t.Errorf("rejected drops = %v, want %d", d, len(first))
			}
			if withSpool {
				kept, _ := filepath.Glob(filepath.Join(o.SpoolDir, "*.rejected"))
				if len(kept) != 1 {
					t.Errorf("spool holds %v, want the refused batch set aside", kept)
				}
			}
		})
	}
}
