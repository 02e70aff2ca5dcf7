package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the upstream and bare-proxy
// children that startRole starts by re-executing itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-role=") {
		o, err := parseOptions(os.Args[1:])
		if err == nil {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err = runRole(ctx, o.role, o.listen, o.upstream)
			stop()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench role:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := []byte(`goos: linux
BenchmarkScaleRoutes/routes=10-2         	    2000	     80880 ns/op	     20533 B/route	         2.010 build-ms	   16033 B/op	     129 allocs/op
BenchmarkScaleRoutes/routes=10000-2      	    2000	     82118 ns/op	      6402 B/route	      2791 build-ms	   16020 B/op	     129 allocs/op
BenchmarkScaleRoutes/routes=100 log line the benchmark printed
BenchmarkScaleDecisionLog/sink=file/rate=1000-2         	    1215	    999354 ns/op	         4.230 cpu-%	     42277 cpu-ns/event
BenchmarkOther/x=1-2  10  5 ns/op
PASS
`)
	for _, tc := range []struct {
		name, bench string
		want        []benchLine
	}{
		{"result lines, not log lines, with every metric", "BenchmarkScaleRoutes", []benchLine{
			{"routes=10", map[string]float64{"ns/op": 80880, "B/route": 20533, "build-ms": 2.010, "B/op": 16033, "allocs/op": 129}},
			{"routes=10000", map[string]float64{"ns/op": 82118, "B/route": 6402, "build-ms": 2791, "B/op": 16020, "allocs/op": 129}},
		}},
		{"a two-level name keeps both levels", "BenchmarkScaleDecisionLog", []benchLine{
			{"sink=file/rate=1000", map[string]float64{"ns/op": 999354, "cpu-%": 4.23, "cpu-ns/event": 42277}},
		}},
		{"another benchmark's lines are not taken", "BenchmarkScaleIssuers", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBench(out, tc.bench)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	if _, err := parseBench([]byte("BenchmarkScaleRoutes/routes=10-2  10  5 ns/op 7\n"), "BenchmarkScaleRoutes"); err == nil {
		t.Fatal("a line with a value but no unit parsed")
	}
}

func TestBenchPattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		points      []string
		match, miss []string
	}{
		{[]string{"routes=10", "routes=100"}, []string{"BenchmarkScaleRoutes/routes=10", "BenchmarkScaleRoutes/routes=100"}, []string{"BenchmarkScaleRoutes/routes=1000"}},
		{[]string{"sink=file/rate=1000", "sink=http/rate=1000"}, []string{"BenchmarkScaleRoutes/sink=http/rate=1000"}, []string{"BenchmarkScaleRoutes/sink=http/rate=10000"}},
	} {
		pat := benchPattern("BenchmarkScaleRoutes", tc.points)
		levels := strings.Split(pat, "/")
		matches := func(name string) bool { // as go test applies it: level by level
			parts := strings.Split(name, "/")
			for i, l := range levels {
				if i < len(parts) && !regexp.MustCompile(l).MatchString(parts[i]) {
					return false
				}
			}
			return true
		}
		for _, n := range tc.match {
			if !matches(n) {
				t.Errorf("%s does not select %s", pat, n)
			}
		}
		for _, n := range tc.miss {
			if matches(n) {
				t.Errorf("%s selects %s", pat, n)
			}
		}
	}
}

func TestPointSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"routes=1000": 1000, "data=10MiB": 10, "sink=file/rate=5000": 5000, "none": 0} {
		if got := pointSize(in); got != want {
			t.Errorf("pointSize(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestScaleQuickRun runs bench-scale's -quick mode end to end: the real
// binary on the axes that have one (short load phases) and, with
// canned go test output, every in-process axis; then it decodes the JSON
// strictly, as a consumer of bench-results/scale-*.json would.
func TestScaleQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway")
	}
	o, err := parseOptions([]string{"-scale", "-quick", "-duration", "200ms", "-warmup", "100ms", "-rounds", "1", "-concurrency", "4", "-out", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	canned := func(_ context.Context, _, pkg, pattern, benchtime string) ([]byte, error) {
		var out bytes.Buffer
		for _, a := range scaleAxes {
			if a.pkg != pkg || !strings.HasPrefix(pattern, "^"+a.bench+"$") {
				continue
			}
			if benchtime != a.quickBenchtime {
				t.Errorf("%s: -benchtime %s, want the quick %s", a.name, benchtime, a.quickBenchtime)
			}
			for _, p := range a.quick {
				fmt.Fprintf(&out, "%s/%s-2 \t 100 \t %d ns/op \t 64 B/op \t 3 allocs/op \t 1.5 heap-MiB\n", a.bench, p, 1000+pointSize(p))
			}
		}
		return out.Bytes(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := runScale(ctx, o, canned)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	r.print(&table)
	path, err := r.write(o.out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "scale-"+r.Started.Format("20060102-150405")+".json" {
		t.Errorf("written to %s", path)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var got scaleReport
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("the JSON does not decode strictly: %v\n%s", err, b)
	}
	if !got.Settings.Quick || len(got.Axes) != len(scaleAxes) {
		t.Fatalf("settings %+v, %d axes, want quick and %d", got.Settings, len(got.Axes), len(scaleAxes))
	}
	for i, a := range got.Axes {
		want := scaleAxes[i]
		if a.Axis != want.name || len(a.Points) != len(want.quick) {
			t.Fatalf("axis %d: %s with %d points, want %s with %d", i, a.Axis, len(a.Points), want.name, len(want.quick))
		}
		if !strings.Contains(table.String(), "\n"+a.Axis+": ") {
			t.Errorf("the table has no %s section:\n%s", a.Axis, table.String())
		}
		for j, p := range a.Points {
			if want.bench != "" && p.InProcess["ns/op"] != float64(1000+p.Size) {
				t.Errorf("%s %s: in-process %v, want the canned ns/op", a.Axis, p.Point, p.InProcess)
			}
			if want.binary == nil {
				if p.Binary != nil {
					t.Errorf("%s %s has binary figures", a.Axis, p.Point)
				}
				continue
			}
			checkBinaryPoint(t, a.Axis+" "+p.Point, p.Binary, j == 0 || j == len(a.Points)-1, a.Axis == "api-keys")
		}
	}
}

// checkBinaryPoint checks that bp holds every figure the point measures.
func checkBinaryPoint(t *testing.T, name string, bp *binaryPoint, extreme, revokes bool) {
	t.Helper()
	if bp == nil {
		t.Fatalf("%s: no binary figures", name)
	}
	if bp.ReadyS <= 0 || bp.RSSMiB <= 0 || bp.PeakRSSMiB < bp.RSSMiB || bp.ReloadS <= 0 {
		t.Errorf("%s: %+v", name, bp)
	}
	if extreme != (bp.Load != nil) {
		t.Errorf("%s: load %+v, want it only at the extremes", name, bp.Load)
	} else if l := bp.Load; l != nil && (l.RPS <= 0 || l.TwinRPS <= 0 || l.RatioToTwin <= 0 || l.CPUUsPerRequest <= 0) {
		t.Errorf("%s: load %+v", name, l)
	}
	for _, v := range []*revocation{bp.Revocation, bp.ListRevocation} {
		if revokes != (v != nil) {
			t.Errorf("%s: revocations %+v, %+v, want both for API keys only", name, bp.Revocation, bp.ListRevocation)
		} else if v != nil && (v.EffectiveS <= 0 || v.Failed > 0) {
			t.Errorf("%s: revocation %+v", name, v)
		}
	}
	if v := bp.Revocation; v != nil && v.EffectiveS > bp.ReloadS {
		t.Errorf("%s: revocation %+v after the reload %.3fs", name, v, bp.ReloadS)
	}
}
