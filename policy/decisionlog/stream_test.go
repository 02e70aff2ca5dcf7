package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBusyStreamWritesEventsTogether: events that follow a write closely
// go out together in the next one, not one write each, and the first
// event after a quiet spell is written without waiting for others.
func TestBusyStreamWritesEventsTogether(t *testing.T) {
	t.Parallel()
	g := &gatedWriter{release: make(chan struct{})}
	close(g.release) // no write is held
	l := newTestLogger(t, Options{}, StdoutOptions{W: g})
	logN(l, "quiet", 1)
	deadline := time.Now().Add(10 * time.Second)
	for g.count() == 0 { // written alone, nothing else queued
		if time.Now().After(deadline) {
			t.Fatal("the first event was not written within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	// Spaced out, so that an idle writer would take each on its own.
	for range 20 {
		logN(l, "busy", 1)
		for t0 := time.Now(); time.Since(t0) < 50*time.Microsecond; { // a sleep would take a timer tick
		}
	}
	closeLogger(t, l)
	out := g.String()
	if strings.Count(out, `"decision_id":"busy-00000"`) != 20 {
		t.Fatalf("want the 20 events written once each, got\n%s", out)
	}
	// One write for the first event and one for each interval the 20 span;
	// a loaded machine may stretch them over several, hence the margin
	// (without the wait, each of the 21 is a write of its own).
	if n := g.count(); n > 16 {
		t.Fatalf("%d writes for 1 + 20 events 50µs apart, want them coalesced", n)
	}
}

func (g *gatedWriter) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

func (g *gatedWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out.String()
}

// A stream whose writer is stuck keeps streamQueue events and drops (and
// counts) the rest; once the writer moves, the kept ones go out in order,
// in writes that end on a line and stop once past coalesceBytes.
func TestStuckStreamKeepsItsQueueAndDropsTheRest(t *testing.T) {
	t.Parallel()
	g := &sizedWriter{gatedWriter: gatedWriter{release: make(chan struct{})}}
	l := newTestLogger(t, Options{}, StdoutOptions{W: g})
	first := logN(l, "held", 1)
	deadline := time.Now().Add(10 * time.Second)
	for g.count() == 0 { // the writer took it and is stuck in Write
		if time.Now().After(deadline) {
			t.Fatal("the first event did not reach Write within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	kept := logN(l, "q", streamQueue+7)
	if d := value(l.m.drops.WithLabelValues("stdout", dropQueueFull)); d != 7 {
		t.Errorf("dropped %v events, want 7", d)
	}
	if q := value(l.m.queue.WithLabelValues("stdout")); q != streamQueue {
		t.Errorf("queue gauge %v, want %d", q, streamQueue)
	}
	close(g.release)
	closeLogger(t, l)
	g.mu.Lock()
	defer g.mu.Unlock()
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(g.out.String(), "\n"), "\n") {
		var ev struct {
			DecisionID string `json:"decision_id"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("a line is not an event: %v: %.200q", err, line)
		}
		got = append(got, ev.DecisionID)
	}
	checkInOrder(t, got, append(first, kept[:streamQueue]...))
	const line = 1 << 10 // these events are shorter
	for _, n := range g.sizes[1:] {
		if n > coalesceBytes+line {
			t.Fatalf("a write of %d bytes, want at most %d", n, coalesceBytes+line)
		}
	}
	if len(g.sizes) < 2+streamQueue*100/coalesceBytes {
		t.Errorf("%d writes for %d queued events of over 100 bytes: not cut at coalesceBytes", len(g.sizes), streamQueue)
	}
}

// sizedWriter is a gatedWriter that also records the size of each write,
// each of which must end a line.
type sizedWriter struct {
	gatedWriter
	sizes []int
}

func (w *sizedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 || p[len(p)-1] != '\n' {
		panic("a write that does not end on a line")
	}
	n, err := w.gatedWriter.Write(p)
	w.mu.Lock()
	w.sizes = append(w.sizes, len(p))
	w.mu.Unlock()
	return n, err
}
