// Command bench is `make bench`: it measures Portcullis in four
// configurations against a bare httputil.ReverseProxy, in interleaved
// rounds on 127.0.0.1, and reports throughput, latency, CPU and memory
// (issue 7).
//
// Each configuration is compared with its bare twin: the same bare proxy
// process driven with exactly the configuration's requests (method, path,
// body, content type, credential header and token pool), measured right
// before it in every round. Load generator, upstream and proxy share the
// machine's cores, so a heavier request (an 800-byte token, a JSON body)
// costs them more CPU; the twin charges that to the floor, not to the
// gateway. ratio_to_bare is a configuration's req/s over its twin's;
// ratio_to_bare_get, over the twin of (a) (plain GETs without a header),
// is the single floor older results were compared with.
//
// Run it from the repository: go run ./tests/bench [-duration 4s] [-rounds 3].
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	concurrency int
	tokens      int
	only        string
	half        bool
	gateway     string
	out         string
	// profile, when set, is the directory for a CPU profile of each
	// gateway configuration, taken over its last round (profile.go).
	profile string
	// scale runs bench-scale instead (scale.go): the axes named by axes,
	// with quick's two points per axis and short benchmarks.
	scale, quick bool
	axes         string

	role, listen, upstream string // internal: the child roles
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per target and round (each phase)")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured load before each measurement")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds, each a configuration's bare twin right before it (bare-a, a, bare-b, b, …; bare-a, a, …)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "connections of the closed-loop load")
	fs.IntVar(&o.tokens, "tokens", 10000, "distinct JWTs in the token pool")
	fs.StringVar(&o.only, "only", "a,b,c,d,e,i", "gateway configurations to run, each with its bare twin; empty runs only the bare proxy with plain GETs")
	fs.BoolVar(&o.half, "half", true, "also measure p99 open loop at half saturation (c vs its bare twin)")
	fs.StringVar(&o.gateway, "gateway", "", "prebuilt portcullis binary (default: go build ./cmd/portcullis)")
	fs.StringVar(&o.out, "out", "bench-results", "directory for the JSON results, relative to the repository")
	fs.StringVar(&o.profile, "profile", "", "directory for a CPU profile of each gateway configuration over its last round (turns on /debug/pprof/ on its admin listener)")
	fs.BoolVar(&o.scale, "scale", false, "run bench-scale: cost curves on every axis (make bench-scale)")
	fs.BoolVar(&o.quick, "quick", false, "bench-scale: two points per axis and short benchmarks, for a smoke run")
	fs.StringVar(&o.axes, "axes", strings.Join(axisNames(), ","), "bench-scale: the axes to run")
	fs.StringVar(&o.role, "role", "", "internal: run as a child (upstream or bareproxy)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "internal: the child's listen address")
	fs.StringVar(&o.upstream, "upstream", "", "internal: the bare proxy's upstream URL")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	if o.duration < 100*time.Millisecond || o.duration > time.Hour {
		errs = append(errs, fmt.Errorf("-duration %s: want 100ms to 1h", o.duration))
	}
	if o.warmup < 0 || o.warmup > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-warmup %s: want 0 to 10m", o.warmup))
	}
	if o.rounds < 1 || o.rounds > 100 {
		errs = append(errs, fmt.Errorf("-rounds %d: want 1 to 100", o.rounds))
	}
	if o.concurrency < 1 || o.concurrency > 1024 {
		errs = append(errs, fmt.Errorf("-concurrency %d: want 1 to 1024", o.concurrency))
	}
	if o.tokens < 1 || o.tokens > 1_000_000 {
		errs = append(errs, fmt.Errorf("-tokens %d: want 1 to 1000000", o.tokens))
	}
	for _, a := range strings.Split(o.axes, ",") {
		if !slices.Contains(axisNames(), a) {
			errs = append(errs, fmt.Errorf("-axes: unknown axis %q (want some of %s)", a, strings.Join(axisNames(), ", ")))
		}
	}
	for _, k := range o.configs() {
		if !knownConfig(k) {
			errs = append(errs, fmt.Errorf("-only: unknown configuration %q (want one of %s)", k, strings.Join(configKeys(), ", ")))
		}
	}
	return o, errors.Join(errs...)
}

// configs returns the keys of the selected gateway configurations.
func (o options) configs() []string {
	if o.only == "" {
		return nil
	}
	return strings.Split(o.only, ",")
}

// configKeys are the keys of every gateway configuration, in table order.
func configKeys() []string {
	keys := make([]string, len(gatewayConfigs))
	for i, gc := range gatewayConfigs {
		keys[i] = gc.key
	}
	return keys
}

func knownConfig(key string) bool {
	for _, gc := range gatewayConfigs {
		if gc.key == key {
			return true
		}
	}
	return false
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case o.role != "":
		err = runRole(ctx, o.role, o.listen, o.upstream)
	case o.scale:
		err = benchScale(ctx, o)
	default:
		err = runBench(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// repoRoot returns the nearest directory at or above the working directory
// whose go.mod declares the portcullis module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/portcullis/portcullis\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the portcullis repository (no go.mod of github.com/portcullis/portcullis above the working directory)")
		}
		dir = parent
	}
}
