package decisionlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A reload builds a new Logger around the sinks whose options did not
// change; closing the old Logger must not close them, so what they queued
// during a collector outage is delivered, in order, after the reload.
func TestALoggerBuiltAroundTheSinksOfTheLastKeepsTheirQueue(t *testing.T) {
	t.Parallel()
	c := newCollector(t)
	c.down.Store(true)
	reg := prometheus.NewRegistry()
	o := testHTTP(c)
	o.FlushInterval = time.Hour // only a full batch or Close sends
	old := newTestLogger(t, Options{Registerer: reg}, o)
	want := logN(old, "old", 30)

	var kept []Sink
	for _, s := range old.Sinks() {
		if s.Options() == *o { // the reload's options are the same
			kept = append(kept, s)
		}
	}
	if len(kept) != 1 {
		t.Fatalf("%d sinks with equal options, want 1", len(kept))
	}
	next, err := New(Options{SampleAllow: 1, SampleDeny: 1, Registerer: reg}, kept...)
	if err != nil {
		t.Fatal(err)
	}
	closeLogger(t, old)
	if n := value(old.m.drops.WithLabelValues("http", dropShutdown)); n != 0 {
		t.Fatalf("closing the old Logger closed the kept sink: %v events lost", n)
	}
	want = append(want, logN(next, "new", 30)...)
	c.down.Store(false)
	closeLogger(t, next) // the last holder: now the sink delivers its queue
	checkInOrder(t, c.received(), want)
}

func TestSinkOptionsAreComparable(t *testing.T) {
	t.Parallel()
	base := withHTTP(func(*HTTPOptions) {})
	rotated := withHTTP(func(o *HTTPOptions) { o.BearerToken = "new" })
	// Two writers of their own: under go test -json, os.Stderr is os.Stdout.
	w1, w2 := new(bytes.Buffer), new(bytes.Buffer)
	tests := []struct {
		name string
		a, b SinkOptions
		same bool
	}{
		{"equal http options", base, withHTTP(func(*HTTPOptions) {}), true},
		{"a rotated bearer token", base, rotated, false},
		{"equal file options", testFile("/a"), testFile("/a"), true},
		{"another file path", testFile("/a"), testFile("/b"), false},
		{"the same writer", StdoutOptions{W: w1}, StdoutOptions{W: w1}, true},
		{"another writer", StdoutOptions{W: w1}, StdoutOptions{W: w2}, false},
		{"equal syslog options", SyslogOptions{Address: "h:1", Timeout: time.Second}, SyslogOptions{Address: "h:1", Timeout: time.Second}, true},
		{"another kind of sink", testFile("/a"), SyslogOptions{Address: "/a"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.a == tc.b; got != tc.same {
				t.Errorf("== is %v, want %v", got, tc.same)
			}
		})
	}
}

// refusingSink is a sink from outside the four transports: the Logger
// writes to it and asks it whether to accept, with no change of its own.
type refusingSink struct {
	holders
	lines  chan []byte
	closed bool
}

func (r *refusingSink) Write(line []byte)               { r.lines <- line }
func (r *refusingSink) Accepting() bool                 { return false }
func (r *refusingSink) Reopen() error                   { return nil }
func (r *refusingSink) Close(ctx context.Context) error { r.closed = true; return nil }
func (r *refusingSink) Options() SinkOptions            { return nil }

func TestEverySinkGetsTheSameLine(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var out syncBuffer
	path := filepath.Join(t.TempDir(), "d.log")
	r := &refusingSink{lines: make(chan []byte, 1)}
	l, err := New(Options{SampleAllow: 1, SampleDeny: 1, Registerer: reg},
		openSink(t, StdoutOptions{W: &out}, reg), openSink(t, testFile(path), reg), r)
	if err != nil {
		t.Fatal(err)
	}
	if l.Accepting() {
		t.Error("accepting although a sink refuses")
	}
	l.Log(context.Background(), goldenEvent())
	closeLogger(t, l)
	file, _ := os.ReadFile(path)
	line := string(<-r.lines)
	if !strings.HasSuffix(line, "}\n") || out.String() != line || string(file) != line {
		t.Errorf("lines differ:\nstdout %q\nfile   %q\nsink   %q", out.String(), file, line)
	}
	if !r.closed {
		t.Error("Close did not close the sink it alone held")
	}
	for _, sink := range []string{"stdout", "file"} {
		if got := value(l.m.delivered.WithLabelValues(sink)); got != 1 {
			t.Errorf("%s delivered = %v, want 1", sink, got)
		}
		if got := value(l.m.queue.WithLabelValues(sink)); got != 0 {
			t.Errorf("%s queue = %v after Close, want 0", sink, got)
		}
	}
}
