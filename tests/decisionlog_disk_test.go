package tests

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smallDisk mounts a 64 KiB tmpfs (the tests run as root) so that a sink
// meets a real ENOSPC. Outside CI it skips when mounting is not permitted.
func smallDisk(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a 64k tmpfs (CI runs as root): %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// metricValue reads one sample from decisionLogMetrics output; 0 if absent.
func metricValue(metrics, series string) float64 {
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func TestDecisionLogFullDiskLeavesNoTornLine(t *testing.T) {
	disk := smallDisk(t)
	path := filepath.Join(disk, "decisions.log")
	up := newUpstream(t, "api")
	g := startGateway(t, dlRouteConfig(up, "  file: {path: \""+path+"\"}"))
	// ~1.3 KB per event: 200 events are four times the disk.
	ids := sendN(t, g, 200, 4, "/api/full-disk", http.StatusOK)

	var delivered, lost float64
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := decisionLogMetrics(t, g)
		delivered = metricValue(m, `portcullis_decisionlog_delivered_total{sink="file"}`)
		lost = metricValue(m, `portcullis_decisionlog_drops_total{reason="write_error",sink="file"}`)
		if delivered+lost >= float64(len(ids)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if delivered+lost != float64(len(ids)) || lost == 0 {
		t.Fatalf("file sink: %v delivered + %v lost, want %d with some lost", delivered, lost, len(ids))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("the file ends in a torn event: %q", b[max(0, len(b)-80):])
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		if _, err := parseEvent(sc.Bytes()); err != nil {
			t.Fatalf("line %d is not a whole event: %v: %.100q", lines+1, err, sc.Bytes())
		}
		lines++
	}
	// Events are lost only where counted: each delivered one is in the file.
	if float64(lines) != delivered {
		t.Fatalf("the file holds %d events, the metric says %v delivered", lines, delivered)
	}
	t.Logf("64 KiB disk: %d events written, %v lost and counted", lines, lost)
}

// A spool on a full disk: batch files are written whole or not at all,
// and what does not fit stays queued in memory, so when the collector
// is back every decision arrives.
func TestDecisionLogFullSpoolDiskLosesNothingUncounted(t *testing.T) {
	disk := smallDisk(t)
	up, col := newUpstream(t, "api"), newCollector(t)
	col.setMode(collectorDown)
	g := startGateway(t, dlRouteConfig(up, `  http:
    url: `+col.URL+`
    flush_interval: 100ms
    max_retry_delay: 200ms
    batch_events: 20
    spool_dir: `+disk))
	ids := sendN(t, g, 200, 4, "/api/full-spool", http.StatusOK)
	deadline := time.Now().Add(15 * time.Second)
	for metricValue(decisionLogMetrics(t, g), `portcullis_decisionlog_spool_errors_total{sink="http"}`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no spool write failed on a 64 KiB disk:\n%s", decisionLogMetrics(t, g))
		}
		time.Sleep(50 * time.Millisecond)
	}
	files, _ := filepath.Glob(filepath.Join(disk, "*.ndjson"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		base := strings.TrimSuffix(filepath.Base(f), ".ndjson")
		n, _ := strconv.Atoi(base[strings.LastIndexByte(base, '-')+1:])
		if len(eventsIn(string(b))) != n || bytes.Count(b, []byte{'\n'}) != n {
			t.Fatalf("spool file %s is torn: %d events, %d lines", f, len(eventsIn(string(b))), bytes.Count(b, []byte{'\n'}))
		}
	}
	col.setMode(collectorOK)
	got := waitEvents(t, "collector after the outage", ids, 30*time.Second, col.snapshot)
	assertSameCopies(t, got)
	if m := decisionLogMetrics(t, g); metricValue(m, `portcullis_decisionlog_drops_total{reason="write_error",sink="http"}`) != 0 {
		t.Errorf("drops counted although everything arrived:\n%s", m)
	}
}
