package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// scaleAxis is one axis of make bench-scale (issue 20, item 1): its points,
// the in-process benchmark that measures them (BenchmarkScale<Axis> in the
// package it measures) and, for some, measurements of the real binary.
type scaleAxis struct {
	name, title string
	// pkg and bench are the in-process benchmark; empty bench for none.
	pkg, bench string
	// points are the sub-benchmarks (or binary sizes) of a full run; quick,
	// those of -quick, two of them.
	points, quick []string
	// benchtime is go test's -benchtime for this axis (full, quick).
	benchtime, quickBenchtime string
	// binary, when set, measures one point with the real binary; extreme
	// is true for the first and last point, which are also driven under
	// load against the bare twin.
	binary func(s *scaleRun, ctx context.Context, size int, extreme bool) (*binaryPoint, error)
}

// scaleAxes are the axes in table order.
var scaleAxes = []scaleAxis{
	{
		name: "routes", title: "routes (prefixes and templates, 1 in 10 with a host)",
		pkg: "./gateway/server", bench: "BenchmarkScaleRoutes",
		points: []string{"routes=10", "routes=100", "routes=1000", "routes=10000"}, quick: []string{"routes=10", "routes=100"},
		benchtime: "5000x", quickBenchtime: "200x",
		binary: (*scaleRun).routesPoint,
	},
	{
		name: "jwt-issuers", title: "JWT issuers (in process: uncached HS256 of the last issuer; real binary: 1 000 cached tokens of it)",
		pkg: "./gateway/authn/jwt", bench: "BenchmarkScaleIssuers",
		points: []string{"issuers=1", "issuers=10", "issuers=50", "issuers=200"}, quick: []string{"issuers=1", "issuers=10"},
		benchtime: "20000x", quickBenchtime: "200x",
		binary: (*scaleRun).issuersPoint,
	},
	{
		name: "jwks-keys", title: "keys per JWKS (uncached EdDSA of the last key)",
		pkg: "./gateway/authn/jwt", bench: "BenchmarkScaleJWKSKeys",
		points: []string{"keys=1", "keys=10", "keys=50", "keys=100"}, quick: []string{"keys=1", "keys=10"},
		benchtime: "5000x", quickBenchtime: "100x",
	},
	{
		name: "token-cache", title: "verified-token cache (hits while full)",
		pkg: "./gateway/authn/jwt", bench: "BenchmarkScaleTokenCache",
		points: []string{"entries=10000", "entries=100000", "entries=300000", "entries=1000000"}, quick: []string{"entries=10000", "entries=100000"},
		benchtime: "300000x", quickBenchtime: "1000x",
	},
	{
		name: "api-keys", title: "API keys (consumers in bundle data, real binary)",
		points: []string{"keys=10", "keys=1000", "keys=100000", "keys=1000000"}, quick: []string{"keys=10", "keys=1000"},
		binary: (*scaleRun).apiKeysPoint,
	},
	{
		name: "policy-rules", title: "policy rules (indexable equalities; real binary: behind a JWT route)",
		pkg: "./policy/engine", bench: "BenchmarkScalePolicyRules",
		points: []string{"rules=10", "rules=100", "rules=1000", "rules=5000"}, quick: []string{"rules=10", "rules=100"},
		benchtime: "20000x", quickBenchtime: "200x",
		binary: (*scaleRun).rulesPoint,
	},
	{
		name: "bundle-data", title: "bundle data (data.json looked up by subject; real binary: behind a JWT route)",
		pkg: "./policy/engine", bench: "BenchmarkScaleBundleData",
		points: []string{"data=1MiB", "data=10MiB", "data=30MiB", "data=100MiB"}, quick: []string{"data=1MiB", "data=10MiB"},
		benchtime: "20000x", quickBenchtime: "200x",
		binary: (*scaleRun).dataPoint,
	},
	{
		name: "decision-log", title: "decision-log events per second",
		pkg: "./policy/decisionlog", bench: "BenchmarkScaleDecisionLog",
		points: []string{
			"sink=file/rate=1000", "sink=file/rate=5000", "sink=file/rate=10000", "sink=file/rate=20000",
			"sink=http/rate=1000", "sink=http/rate=5000", "sink=http/rate=10000", "sink=http/rate=20000",
		},
		quick:     []string{"sink=file/rate=1000", "sink=http/rate=1000"},
		benchtime: "3s", quickBenchtime: "200ms",
	},
}

// axisNames are the names of every axis, in table order.
func axisNames() []string {
	names := make([]string, len(scaleAxes))
	for i, a := range scaleAxes {
		names[i] = a.name
	}
	return names
}

// benchPattern is go test's -bench pattern for points: the benchmark, then
// one alternation per level of the sub-benchmark names, each anchored.
func benchPattern(bench string, points []string) string {
	var levels [][]string
	for _, p := range points {
		for i, part := range strings.Split(p, "/") {
			if i == len(levels) {
				levels = append(levels, nil)
			}
			if !slices.Contains(levels[i], part) {
				levels[i] = append(levels[i], part)
			}
		}
	}
	pat := "^" + bench + "$"
	for _, alts := range levels {
		quoted := make([]string, len(alts))
		for i, a := range alts {
			quoted[i] = regexp.QuoteMeta(a)
		}
		pat += "/^(" + strings.Join(quoted, "|") + ")$"
	}
	return pat
}

// benchRunner runs go test's benchmarks and returns its output; tests
// replace it with canned output.
type benchRunner func(ctx context.Context, root, pkg, pattern, benchtime string) ([]byte, error)

// goTestBench runs the benchmarks matching pattern in pkg, without tests.
// The output goes to stderr as well, as progress.
func goTestBench(ctx context.Context, root, pkg, pattern, benchtime string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-benchtime", benchtime, "-timeout", "30m", pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %w", pattern, pkg, err)
	}
	return out.Bytes(), nil
}

// benchLine is one result line of go test -bench: the sub-benchmark's name
// below bench (e.g. "routes=10") and its metrics by unit, "ns/op" and
// "allocs/op" among them.
type benchLine struct {
	point   string
	metrics map[string]float64
}

// gomaxprocsSuffix is the "-N" go test appends to a benchmark's name.
var gomaxprocsSuffix = regexp.MustCompile(`-\d+$`)

// parseBench returns the result lines of bench in go test -bench output.
// A line is the name, the iteration count, then value-unit pairs.
func parseBench(out []byte, bench string) ([]benchLine, error) {
	var lines []benchLine
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], bench+"/") {
			continue
		}
		if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
			continue // a log line that starts with the name
		}
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("benchmark line %q: metrics are not value-unit pairs", s.Text())
		}
		l := benchLine{point: gomaxprocsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], bench+"/"), ""), metrics: map[string]float64{}}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", s.Text(), err)
			}
			l.metrics[f[i+1]] = v
		}
		lines = append(lines, l)
	}
	return lines, s.Err()
}

// pointSize is the number in a point's name ("routes=1000" → 1000,
// "data=10MiB" → 10, "sink=file/rate=5000" → 5000: the last one).
func pointSize(point string) int {
	m := regexp.MustCompile(`(\d+)\D*$`).FindStringSubmatch(point)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
