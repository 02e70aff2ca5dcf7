package decisionlog

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// spooledEvents counts the events in the spool's batch files.
func spooledEvents(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if k, ok := spoolEvents(e.Name()); ok {
			n += k
		}
	}
	return n
}

func TestHangingCollectorSpoolsTheSendAndTheQueue(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-gate // accept, then hang until released
		c.serve(w, r)
	}))
	t.Cleanup(c.srv.Close)
	o := testHTTP(c)
	o.SpoolDir = t.TempDir()
	o.FlushInterval = 20 * time.Millisecond
	o.Timeout = time.Hour // only the spool keeps a crash from losing the queue
	l := newTestLogger(t, Options{}, o)
	// Cleanups run last first: release the collector before Close waits.
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	want := logN(l, "h", 40)
	// The batch in flight and everything queued behind it reach the disk,
	// although the POST neither fails nor times out.
	waitUntil(t, func() bool { return spooledEvents(t, o.SpoolDir) == len(want) })
	want = append(want, logN(l, "h2", 25)...)
	waitUntil(t, func() bool { return spooledEvents(t, o.SpoolDir) == len(want) })

	release()
	got := c.waitFor(t, len(want))
	checkInOrder(t, got, want)
	waitUntil(t, func() bool { return spooledEvents(t, o.SpoolDir) == 0 })
	closeLogger(t, l)
}

// logged counts the gateway log lines with message msg.
func logged(logs *syncBuffer, msg string) int {
	return strings.Count(logs.String(), `"message":"`+msg+`"`)
}

func TestDeletedSpoolDirectoryIsRecreatedAndAnOutageLoggedOnce(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	c.down.Store(true)
	o := testHTTP(c)
	o.SpoolDir = filepath.Join(t.TempDir(), "spool")
	o.BatchEvents = 5
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	s, err := o.Open(Env{Logger: zerolog.New(logs), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{SampleAllow: 1, SampleDeny: 1, Registerer: reg, Logger: testLog(t)}, s)
	if err != nil {
		t.Fatal(err)
	}
	want := logN(l, "a", 10)
	waitUntil(t, func() bool { return spooledEvents(t, o.SpoolDir) == 10 })

	// Deleted: the next write makes the directory again, nothing fails.
	if err := os.RemoveAll(o.SpoolDir); err != nil {
		t.Fatal(err)
	}
	want = append(want, logN(l, "b", 10)...)
	waitUntil(t, func() bool { return spooledEvents(t, o.SpoolDir) == 10 })
	errs := l.m.spoolErrors.WithLabelValues(sinkHTTP)
	if n := value(errs); n != 0 {
		t.Fatalf("spool errors = %v after a recreatable deletion", n)
	}

	// Replaced by a file: every write fails, counted each time, logged once.
	if err := os.RemoveAll(o.SpoolDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.SpoolDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	kept := logN(l, "c", 30)
	waitUntil(t, func() bool { return value(errs) >= 3 })
	if n := logged(logs, "decision log spool write failed"); n != 1 {
		t.Fatalf("spool failure logged %d times, want once per outage", n)
	}
	if err := os.Remove(o.SpoolDir); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return logged(logs, "decision log spool writable again") == 1 })

	c.down.Store(false)
	// a's and b's events were in the deleted directories: lost by the
	// operator, not by the sink. c's, kept in memory meanwhile, arrive.
	got := c.waitFor(t, len(kept))
	closeLogger(t, l)
	checkInOrder(t, got, kept)
	for _, id := range want {
		if slices.Contains(got, id) {
			t.Fatalf("%s arrived although its spool file was deleted", id)
		}
	}
}

// fullDisk is a writer with room for cap bytes: a write past it is cut
// short with ENOSPC, as a file on a full disk is. With truncate, it can
// remove the tail it wrote (tailTruncater).
type fullDisk struct {
	mu       sync.Mutex
	buf      []byte
	cap      int
	truncate bool
}

func (d *fullDisk) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	room := d.cap - len(d.buf)
	if room >= len(p) {
		d.buf = append(d.buf, p...)
		return len(p), nil
	}
	d.buf = append(d.buf, p[:max(room, 0)]...)
	return max(room, 0), syscall.ENOSPC
}

func (d *fullDisk) grow(n int) {
	d.mu.Lock()
	d.cap += n
	d.mu.Unlock()
}

func (d *fullDisk) lines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.SplitAfter(string(d.buf), "\n")
}

// truncatingDisk is a fullDisk that can cut back its tail.
type truncatingDisk struct{ fullDisk }

func (d *truncatingDisk) truncateTail(n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = d.buf[:len(d.buf)-int(n)]
	return nil
}

func TestFullDiskNeverLeavesATornEventUncounted(t *testing.T) {
	t.Parallel()
	cut := &truncatingDisk{fullDisk{cap: 1000}}
	plain := &fullDisk{cap: 1000}
	for _, tc := range []struct {
		name     string
		w        io.Writer
		disk     *fullDisk
		wantTorn int // partial lines left in place, each alone on its line
	}{
		{"truncated back", cut, &cut.fullDisk, 0},
		{"next line fresh", plain, plain, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newTestLogger(t, Options{}, StdoutOptions{W: tc.w})
			logN(l, "full", 20) // ~300 bytes each: the disk fills mid-event
			waitUntil(t, func() bool {
				return value(l.m.delivered.WithLabelValues("stdout"))+value(l.m.drops.WithLabelValues("stdout", dropWrite)) == 20
			})
			tc.disk.grow(1 << 20) // space freed
			logN(l, "after", 5)
			closeLogger(t, l)

			delivered := int(value(l.m.delivered.WithLabelValues("stdout")))
			lost := int(value(l.m.drops.WithLabelValues("stdout", dropWrite)))
			if delivered+lost != 25 || lost == 0 {
				t.Fatalf("delivered %d + lost %d, want 25 with some lost", delivered, lost)
			}
			valid, torn := 0, 0
			for _, line := range tc.disk.lines() {
				if line == "" {
					continue
				}
				var ev map[string]any
				if !strings.HasSuffix(line, "\n") || json.Unmarshal([]byte(line), &ev) != nil {
					torn++
					continue
				}
				valid++
			}
			if valid != delivered || torn != tc.wantTorn {
				t.Fatalf("file has %d events and %d torn lines; want %d delivered and %d torn", valid, torn, delivered, tc.wantTorn)
			}
		})
	}
}

func TestFileTruncateTailThenAppend(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "d.log")
	lj, err := openFile(testFile(path))
	if err != nil {
		t.Fatal(err)
	}
	f := fileWriter{lj, path}
	if _, err := f.Write([]byte("{\"a\":1}\n{\"b\":")); err != nil {
		t.Fatal(err)
	}
	if err := f.truncateTail(int64(len(`{"b":`))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("{\"c\":3}\n")); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\":1}\n{\"c\":3}\n" {
		t.Fatalf("file = %q", got)
	}
}
