package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"
)

// A lone stream sink is handed the encoding buffer of each line and gives
// it back to the pool once copied. Lines waiting in its queue must stay
// whole while later events are encoded, with one sink (the buffer handed
// over) and with two (a shared copy).
func TestQueuedLinesSurviveLaterEvents(t *testing.T) {
	t.Parallel()
	for _, sinks := range []int{1, 2} {
		gates := make([]*gatedWriter, sinks)
		var opts []SinkOptions
		for i := range gates {
			gates[i] = &gatedWriter{release: make(chan struct{})}
			opts = append(opts, StdoutOptions{W: gates[i]})
		}
		l := newTestLogger(t, Options{}, opts...)
		if got := l.owner != nil; got != (sinks == 1) {
			t.Fatalf("%d sinks: the sink owns the lines = %v", sinks, got)
		}
		want := logN(l, "q", 500)
		for _, g := range gates {
			close(g.release)
		}
		closeLogger(t, l)
		for _, g := range gates {
			g.mu.Lock()
			lines := strings.Split(strings.TrimSuffix(g.out.String(), "\n"), "\n")
			g.mu.Unlock()
			got := make([]string, 0, len(lines))
			for _, line := range lines {
				var ev struct {
					DecisionID string `json:"decision_id"`
				}
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("%d sinks: a line is not an event: %v: %.200q", sinks, err, line)
				}
				got = append(got, ev.DecisionID)
			}
			checkInOrder(t, got, want)
		}
	}
}
