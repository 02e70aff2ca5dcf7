package decisionlog

import (
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
