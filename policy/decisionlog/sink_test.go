package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestSampling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		allow, deny      float64
		minAllow, maxAll int // of 2000 allows
		minDeny, maxDeny int // of 2000 denies
	}{
		{"everything is kept at 1", 1, 1, 2000, 2000, 2000, 2000},
		{"nothing is kept at 0", 0, 0, 0, 0, 0, 0},
		{"all denies and about a tenth of allows", 0.1, 1, 100, 320, 2000, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out syncBuffer
			reg := prometheus.NewRegistry()
			l, err := New(Options{SampleAllow: tc.allow, SampleDeny: tc.deny, Stdout: &out, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4000 {
				l.Log(context.Background(), &Event{DecisionID: "d", Allow: i%2 == 0})
			}
			closeLogger(t, l)
			allows := strings.Count(out.String(), `"allow":true`)
			denies := strings.Count(out.String(), `"allow":false`)
			if allows < tc.minAllow || allows > tc.maxAll || denies < tc.minDeny || denies > tc.maxDeny {
				t.Errorf("kept %d allows, %d denies; want %d..%d and %d..%d", allows, denies, tc.minAllow, tc.maxAll, tc.minDeny, tc.maxDeny)
			}
			if got := value(l.m.sampled); int(got) != 4000-allows-denies {
				t.Errorf("dropped_sampled = %v, want %d", got, 4000-allows-denies)
			}
		})
	}
}

func TestStdoutWritesOneLinePerEvent(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l := newTestLogger(t, Options{Stdout: &out})
	ids := logN(l, "s", 25)
	closeLogger(t, l)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(ids) {
		t.Fatalf("%d lines, want %d", len(lines), len(ids))
	}
	for i, line := range lines {
		var ev struct {
			ID string `json:"decision_id"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.ID != ids[i] {
			t.Errorf("line %d: id %q, err %v; want %q", i, ev.ID, err, ids[i])
		}
	}
	l.Log(context.Background(), &Event{DecisionID: "late"})
	if got := value(l.m.closed); got != 1 {
		t.Errorf("an event after Close counted %v times as dropped_closed, want 1", got)
	}
}

func TestFileReopenAfterRenameWritesANewFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	l := newTestLogger(t, Options{File: &FileOptions{Path: path, MaxSize: 1 << 20, MaxAge: time.Hour}})
	l.Log(context.Background(), &Event{DecisionID: "first"})
	waitForFile(t, path, "first")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	l.Log(context.Background(), &Event{DecisionID: "second"})
	closeLogger(t, l)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no new file after Reopen: %v", err)
	}
	if !strings.Contains(string(got), `"second"`) || strings.Contains(string(got), `"first"`) {
		t.Errorf("new file = %s", got)
	}
	old, _ := os.ReadFile(rotated)
	if strings.Contains(string(old), `"second"`) {
		t.Errorf("the renamed file got the event written after Reopen")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestFileOptionsBecomeLumberjackUnits(t *testing.T) {
	t.Parallel()
	lj, err := openFile(FileOptions{Path: filepath.Join(t.TempDir(), "a", "d.log"), MaxSize: 1<<20 + 1, MaxAge: 25 * time.Hour, MaxBackups: 3})
	if err != nil {
		t.Fatal(err)
	}
	if lj.MaxSize != 2 || lj.MaxAge != 2 || lj.MaxBackups != 3 {
		t.Errorf("MaxSize %d MiB, MaxAge %d days, MaxBackups %d; want 2, 2, 3", lj.MaxSize, lj.MaxAge, lj.MaxBackups)
	}
	if _, err := openFile(FileOptions{Path: filepath.Join(t.TempDir(), "d.log"), MaxSize: 1, MaxAge: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
}

func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q", path, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestZerologGlobalLevelDisabledIsCounted(t *testing.T) {
	// Not parallel: it changes zerolog's global level.
	var out syncBuffer
	l := newTestLogger(t, Options{Stdout: &out})
	prev := zerolog.GlobalLevel()
	zerolog.SetGlobalLevel(zerolog.Disabled)
	l.Log(context.Background(), &Event{DecisionID: "d"})
	zerolog.SetGlobalLevel(prev)
	closeLogger(t, l)
	if got := value(l.m.failed); got != 1 {
		t.Errorf("dropped_error = %v, want 1", got)
	}
}

func TestALoggerWithoutSinksIsDisabled(t *testing.T) {
	t.Parallel()
	l, err := New(Options{SampleAllow: 1, SampleDeny: 1})
	if err != nil {
		t.Fatal(err)
	}
	if l.Enabled() {
		t.Fatal("a logger without sinks reports Enabled")
	}
	l.Log(context.Background(), &Event{Allow: true}) // must do nothing, and not panic
	var out strings.Builder
	l2, err := New(Options{SampleAllow: 1, SampleDeny: 1, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(context.Background())
	if !l2.Enabled() {
		t.Fatal("a logger with stdout reports disabled")
	}
}

// gatedWriter blocks its first Write until released and counts writes.
type gatedWriter struct {
	release chan struct{}
	mu      sync.Mutex
	writes  int
	out     bytes.Buffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	first := g.writes == 0
	g.writes++
	g.mu.Unlock()
	if first {
		<-g.release
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out.Write(p)
}

func TestStreamWritesQueuedEventsTogether(t *testing.T) {
	t.Parallel()
	g := &gatedWriter{release: make(chan struct{})}
	l := newTestLogger(t, Options{Stdout: g})
	ids := logN(l, "co", 50) // the first is held in Write; the rest queue up
	close(g.release)
	closeLogger(t, l)
	out := g.out.String()
	for _, id := range ids {
		if strings.Count(out, `"decision_id":"`+id+`"`) != 1 {
			t.Fatalf("event %s is not written exactly once", id)
		}
	}
	if g.writes > 3 {
		t.Fatalf("%d writes for 50 queued events, want them coalesced", g.writes)
	}
}
