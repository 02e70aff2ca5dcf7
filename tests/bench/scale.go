package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// scaleRun is one run of make bench-scale: the in-process benchmarks of
// every selected axis, then the real-binary measurements of the axes that
// have them, against the upstream and bare proxy children.
type scaleRun struct {
	opts     options
	root     string
	dir      string // temporary files: binary, configs, bundles, logs
	runner   benchRunner
	children []*child
	upstream *child
	bare     *child
	// upstreamURL and bareBase are the upstream's and the bare proxy's
	// base URLs; empty until startChildren.
	upstreamURL, bareBase string
}

// scaleReport is what bench-scale prints and writes to
// bench-results/scale-<time>.json (see README, "Performance at scale").
type scaleReport struct {
	Started  time.Time     `json:"started"`
	Host     hostInfo      `json:"host"`
	Settings scaleSettings `json:"settings"`
	Axes     []axisReport  `json:"axes"`
}

type scaleSettings struct {
	Quick bool `json:"quick"`
	// Gateway is the binary measured: "built" (go build of this checkout)
	// or the -gateway path.
	Gateway     string `json:"gateway"`
	Duration    string `json:"duration"`
	Concurrency int    `json:"concurrency"`
}

// axisReport is one axis: its in-process benchmark (absent for a
// binary-only axis) and its points in increasing size.
type axisReport struct {
	Axis      string        `json:"axis"`
	Title     string        `json:"title"`
	Package   string        `json:"package,omitempty"`
	Benchmark string        `json:"benchmark,omitempty"`
	Points    []pointReport `json:"points"`
}

// pointReport is one point of an axis. InProcess holds the benchmark's
// metrics by go test's unit: ns/op, B/op, allocs/op and the benchmark's own
// (build-ms, heap-MiB, B/route, …; see each BenchmarkScale<Axis>).
type pointReport struct {
	Point     string             `json:"point"`
	Size      int                `json:"size"`
	InProcess map[string]float64 `json:"in_process,omitempty"`
	Binary    *binaryPoint       `json:"binary,omitempty"`
}

// binaryPoint is what the real binary measured at one point.
type binaryPoint struct {
	// ReadyS is from the process start to /readyz answering 200.
	ReadyS float64 `json:"ready_s"`
	// RSSMiB is the resident set once ready; PeakRSSMiB the peak (VmHWM)
	// at the end of the point, after the reload and any load.
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// ReloadS is from SIGHUP to the new generation running.
	ReloadS float64 `json:"reload_s"`
	// Revocation is, for API keys, the reload that removes one key from
	// the key file; ListRevocation the reload that then revokes another
	// by the revocation list, the key file unchanged.
	Revocation     *revocation `json:"revocation,omitempty"`
	ListRevocation *revocation `json:"list_revocation,omitempty"`
	// Load is the closed-loop comparison with the bare twin, at the
	// extremes of the axis.
	Load *loadFigures `json:"load,omitempty"`
}

// revocation is one key removed from the bundle data and SIGHUP sent,
// while other keys' requests run at a fixed rate.
type revocation struct {
	// EffectiveS is from SIGHUP to the removed key's first refusal.
	EffectiveS float64 `json:"effective_s"`
	// Requests, P99Ms and MaxMs are of the fixed-rate requests from SIGHUP
	// to the new generation (latency from the scheduled send, no
	// coordinated omission); Failed counts non-2xx among them.
	RateRPS  float64 `json:"rate_rps"`
	Requests uint64  `json:"requests"`
	Failed   uint64  `json:"failed"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// loadFigures compare the gateway with its bare twin (the bare proxy
// driven with the same requests) in interleaved closed-loop rounds.
type loadFigures struct {
	RPS         float64 `json:"rps"`
	TwinRPS     float64 `json:"twin_rps"`
	RatioToTwin float64 `json:"ratio_to_twin"`
	// CPUUsPerRequest is the gateway's own CPU (user+system) per request.
	CPUUsPerRequest float64 `json:"cpu_us_per_request"`
	P99Us           float64 `json:"p99_us"`
}

// selectedAxes returns the axes -axes names, in table order.
func (o options) selectedAxes() []scaleAxis {
	want := strings.Split(o.axes, ",")
	var out []scaleAxis
	for _, a := range scaleAxes {
		if slices.Contains(want, a.name) {
			out = append(out, a)
		}
	}
	return out
}

// benchScale is make bench-scale: it runs the axes, prints the table and
// writes the JSON.
func benchScale(ctx context.Context, o options) error {
	r, err := runScale(ctx, o, goTestBench)
	if err != nil {
		return err
	}
	r.print(os.Stdout)
	out := o.out
	if !filepath.IsAbs(out) {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		out = filepath.Join(root, out)
	}
	path, err := r.write(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "\nresults: %s\n", path)
	return nil
}

// runScale runs bench-scale and always stops every child it started.
func runScale(ctx context.Context, o options, runner benchRunner) (*scaleReport, error) {
	started := time.Now()
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	// Under bin/ (ignored by git) rather than /tmp: a point can take
	// minutes, and a cleaner of /tmp must not remove the gateway binary
	// between two points.
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Join(root, "bin"), "bench-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s := &scaleRun{opts: o, root: root, dir: dir, runner: runner}
	defer s.stopChildren()
	r := &scaleReport{
		Started: started.UTC(),
		Host: hostInfo{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			Platform: runtime.GOOS + "/" + runtime.GOARCH},
		Settings: scaleSettings{Quick: o.quick, Gateway: "built", Duration: o.duration.String(), Concurrency: o.concurrency},
	}
	if o.gateway != "" {
		r.Settings.Gateway = o.gateway
	}
	axes := o.selectedAxes()
	if slices.ContainsFunc(axes, func(a scaleAxis) bool { return a.binary != nil }) {
		if err := s.startChildren(ctx); err != nil {
			return nil, err
		}
	}
	for _, a := range axes {
		ar, err := s.axis(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("axis %s: %w", a.name, err)
		}
		r.Axes = append(r.Axes, ar)
	}
	return r, nil
}

// axis measures every point of a.
func (s *scaleRun) axis(ctx context.Context, a scaleAxis) (axisReport, error) {
	points, benchtime := a.points, a.benchtime
	if s.opts.quick {
		points, benchtime = a.quick, a.quickBenchtime
	}
	ar := axisReport{Axis: a.name, Title: a.title, Package: a.pkg, Benchmark: a.bench}
	for _, p := range points {
		ar.Points = append(ar.Points, pointReport{Point: p, Size: pointSize(p)})
	}
	if a.bench != "" {
		progress("%s: go test -bench %s %s", a.name, a.bench, a.pkg)
		out, err := s.runner(ctx, s.root, a.pkg, benchPattern(a.bench, points), benchtime)
		if err != nil {
			return ar, err
		}
		lines, err := parseBench(out, a.bench)
		if err != nil {
			return ar, err
		}
		for i := range ar.Points {
			j := slices.IndexFunc(lines, func(l benchLine) bool { return l.point == ar.Points[i].Point })
			if j < 0 {
				return ar, fmt.Errorf("no result of %s/%s in the go test output", a.bench, ar.Points[i].Point)
			}
			ar.Points[i].InProcess = lines[j].metrics
		}
	}
	if a.binary != nil {
		for i := range ar.Points {
			p := &ar.Points[i]
			progress("%s: %s with the real binary", a.name, p.Point)
			bp, err := a.binary(s, ctx, p.Size, i == 0 || i == len(ar.Points)-1)
			if err != nil {
				return ar, fmt.Errorf("%s: %w", p.Point, err)
			}
			p.Binary = bp
		}
	}
	return ar, ctx.Err()
}

// progress writes a status line to stderr; the table goes to stdout.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-scale: "+format+"\n", args...)
}

// stopChildren stops every child, the last started first.
func (s *scaleRun) stopChildren() {
	for _, c := range slices.Backward(s.children) {
		c.stop()
	}
}

// write writes r as dir/scale-<time>.json and returns the path.
func (r *scaleReport) write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "scale-"+r.Started.Format("20060102-150405")+".json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// scaleColumns are the in-process metrics the table shows when a point has
// them, in this order; the JSON has every metric.
var scaleColumns = []string{"ns/op", "allocs/op", "build-ms", "compile-ms", "heap-MiB",
	"B/route", "B/entry", "B/data-byte", "cache-hit-%", "gc-cpu-%", "gc-ms", "cpu-ns/event", "cpu-%", "drops", "delivered-%"}

// print writes one table per axis to w.
func (r *scaleReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nbench-scale: %s, GOMAXPROCS %d, gateway %s, quick %v\n", r.Host.Platform, r.Host.GOMAXPROCS, r.Settings.Gateway, r.Settings.Quick)
	for _, a := range r.Axes {
		fmt.Fprintf(w, "\n%s: %s\n", a.Axis, a.Title)
		var cols []string
		for _, c := range scaleColumns {
			if slices.ContainsFunc(a.Points, func(p pointReport) bool { _, ok := p.InProcess[c]; return ok }) {
				cols = append(cols, c)
			}
		}
		binary := slices.ContainsFunc(a.Points, func(p pointReport) bool { return p.Binary != nil })
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := append([]string{"point"}, cols...)
		if binary {
			head = append(head, "ready s", "RSS MiB", "peak MiB", "reload s", "revoked s", "p99 ms", "listed s", "p99 ms", "× twin", "CPU µs/req")
		}
		fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
		for _, p := range a.Points {
			row := []string{p.Point}
			for _, c := range cols {
				row = append(row, formatMetric(p.InProcess, c))
			}
			if binary {
				row = append(row, binaryCells(p.Binary)...)
			}
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		tw.Flush()
	}
}

// formatMetric is m[unit] with three significant digits, "-" when absent.
func formatMetric(m map[string]float64, unit string) string {
	v, ok := m[unit]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.3g", v)
}

// binaryCells are the table cells of b, "-" for what was not measured.
func binaryCells(b *binaryPoint) []string {
	cells := []string{"-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
	if b == nil {
		return cells
	}
	cells[0], cells[1], cells[2], cells[3] = fmt.Sprintf("%.2f", b.ReadyS), fmt.Sprintf("%.0f", b.RSSMiB), fmt.Sprintf("%.0f", b.PeakRSSMiB), fmt.Sprintf("%.2f", b.ReloadS)
	for i, v := range []*revocation{b.Revocation, b.ListRevocation} {
		if v != nil {
			cells[4+2*i], cells[5+2*i] = fmt.Sprintf("%.2f", v.EffectiveS), fmt.Sprintf("%.1f", v.P99Ms)
		}
	}
	if l := b.Load; l != nil {
		cells[8], cells[9] = fmt.Sprintf("%.2f", l.RatioToTwin), fmt.Sprintf("%.0f", l.CPUUsPerRequest)
	}
	return cells
}
