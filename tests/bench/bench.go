package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// bench is one run of the benchmark: its processes, targets and results.
type bench struct {
	opts     options
	root     string // the repository
	dir      string // temporary files: binary, configs, keys, logs
	tokens   []string
	children []*child
	upstream *child
	// targets in measuring order: each gateway configuration right after
	// its bare twin (bare-a, a, bare-b, b, …), or the bare proxy alone.
	targets []*target
}

// target is one system under test driven with one request spec.
type target struct {
	key, title string
	proc       *child
	spec       requestSpec
	client     *http.Client
	closed     []measurement // one per round
	// twin is, for a gateway configuration, the bare proxy driven with the
	// same requests: the floor it is compared with. nil for a bare proxy.
	twin *target
	// admin is a gateway's admin listener (host:port); empty for the bare proxy.
	admin string
}

// measurement is one phase against one target, with the CPU time the
// target, the upstream and the load generator used during it.
type measurement struct {
	*outcome
	cpu, upstreamCPU, loadCPU time.Duration
}

// runBench runs the whole benchmark and always stops every child it
// started.
func runBench(ctx context.Context, o options) error {
	started := time.Now()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "portcullis-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{opts: o, root: root, dir: dir}
	defer b.stopChildren()

	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.start(ctx); err != nil {
		return err
	}
	b.progress("%d targets, %d rounds of %s (+%s warm-up), %d connections; the whole run takes about %s",
		len(b.targets), o.rounds, o.duration, o.warmup, o.concurrency, b.estimate().Round(time.Second))
	if err := b.saturation(ctx); err != nil {
		return err
	}
	var half *halfReport
	if o.half {
		if half, err = b.halfSaturation(ctx); err != nil {
			return err
		}
	}
	r, err := b.report(started, half)
	if err != nil {
		return err
	}
	r.print(os.Stdout)
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	path, err := r.write(out, started)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "\nresults: %s\n", path)
	return nil
}

// progress writes a status line to stderr; the table goes to stdout.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// estimate is the expected duration of the measurements.
func (b *bench) estimate() time.Duration {
	per := b.opts.warmup + b.opts.duration
	d := time.Duration(b.opts.rounds*closedTargets(len(b.opts.configs()))) * per
	if b.opts.half && slices.Contains(b.opts.configs(), "c") {
		d += time.Duration(b.opts.rounds*4) * per
	}
	return d
}

// prepare builds the gateway and mints the token pool at the same time.
func (b *bench) prepare(ctx context.Context) error {
	iss, err := newIssuer()
	if err != nil {
		return err
	}
	pub, err := iss.publicPEM()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, "issuer-public.pem"), pub, 0o644); err != nil {
		return err
	}
	if err := writeAllowAll(b.dir); err != nil {
		return err
	}
	if err := writePeer(b.dir); err != nil {
		return err
	}
	if err := writeAssertionKey(filepath.Join(b.dir, "assertion-key.pem")); err != nil {
		return err
	}
	var g errgroup.Group
	g.Go(func() error {
		if b.opts.gateway != "" || len(b.opts.configs()) == 0 {
			return nil
		}
		bin, err := buildGateway(ctx, b.root, b.dir)
		b.opts.gateway = bin
		return err
	})
	g.Go(func() error {
		t0 := time.Now()
		var err error
		b.tokens, err = iss.mint(b.opts.tokens, 2*time.Hour+b.estimate()*2)
		if err == nil {
			b.progress("minted %d RS256 tokens in %s", len(b.tokens), time.Since(t0).Round(time.Millisecond))
		}
		return err
	})
	return g.Wait()
}

// buildGateway builds ./cmd/portcullis of the repository at root into dir
// and returns the binary's path.
func buildGateway(ctx context.Context, root, dir string) (string, error) {
	fmt.Fprintln(os.Stderr, "bench: building ./cmd/portcullis")
	bin := filepath.Join(dir, "portcullis")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/portcullis")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/portcullis: %w", err)
	}
	return bin, nil
}

// closedTargets is the number of closed-loop targets with n gateway
// configurations: each with its bare twin, or the bare proxy alone.
func closedTargets(n int) int {
	if n == 0 {
		return 1
	}
	return 2 * n
}

// start starts the upstream, the bare proxy and one gateway per selected
// configuration, adds for each configuration its bare twin (the bare proxy
// driven with the configuration's requests) and the configuration itself,
// and checks that each target answers its request with a 2xx.
func (b *bench) start(ctx context.Context) error {
	up, upAddr, err := startRole("upstream", filepath.Join(b.dir, "upstream.log"), "upstream")
	if err != nil {
		return err
	}
	b.children, b.upstream = append(b.children, up), up
	upstreamURL := "http://" + upAddr
	bare, bareAddr, err := startRole("bare proxy", filepath.Join(b.dir, "bareproxy.log"), "bareproxy", "-upstream="+upstreamURL)
	if err != nil {
		return err
	}
	b.children = append(b.children, bare)
	bareBase := "http://" + bareAddr
	if len(b.opts.configs()) == 0 {
		b.addTarget("bare", "bare ReverseProxy", bare, requestSpec{method: "GET", url: bareBase + usersPath})
	}

	for _, gc := range gatewayConfigs {
		if !slices.Contains(b.opts.configs(), gc.key) {
			continue
		}
		cfg, proxy, admin, err := renderConfig(gc, b.dir, b.root, upstreamURL, filepath.Join(b.dir, "issuer-public.pem"), b.opts.profile != "")
		if err != nil {
			return err
		}
		gw, _, err := startChild("gateway "+gc.title, filepath.Join(b.dir, "gateway-"+gc.key+".log"),
			[]string{b.opts.gateway, "run", "--config", cfg}, false)
		if err != nil {
			return err
		}
		b.children = append(b.children, gw)
		if err := gw.waitReady(ctx, "http://"+admin+"/readyz"); err != nil {
			return err
		}
		twin := b.addTarget(bareKey(gc.key), "bare ReverseProxy, requests of ("+gc.key+")", bare, gc.spec(bareBase, b))
		t := b.addTarget(gc.key, gc.title, gw, gc.spec("http://"+proxy, b))
		t.twin, t.admin = twin, admin
		if gc.guard != nil {
			spec := gc.guard("http://"+proxy, b)
			if got, err := statusOf(ctx, t.client, &spec); err != nil || got != gc.status {
				return fmt.Errorf("%s answers %s %s with %d (%v), want %d: its pipeline is not what the benchmark claims to measure",
					gc.title, spec.method, spec.url, got, err, gc.status)
			}
		}
	}
	for _, t := range b.targets {
		o := &outcome{}
		o.exchange(ctx, t.client, &t.spec, 0)
		if o.failed > 0 {
			return fmt.Errorf("%s does not answer the benchmark request with 2xx: %s\n%s", t.title, o.failure, t.proc.logTail())
		}
	}
	return nil
}

// bareKey is the key of configuration key's bare twin.
func bareKey(key string) string { return "bare-" + key }

func (b *bench) addTarget(key, title string, proc *child, spec requestSpec) *target {
	t := &target{key: key, title: title, proc: proc, spec: spec, client: newClient(b.opts.concurrency)}
	b.targets = append(b.targets, t)
	return t
}

// stopChildren stops every child, the gateways first.
func (b *bench) stopChildren() {
	for _, c := range slices.Backward(b.children) {
		c.stop()
	}
}

// measure runs phase against t and charges it the CPU time each process
// used meanwhile. A dead target always fails the benchmark, and with strict
// so does any failed request: numbers of a configuration that answers 401
// measure nothing.
func (b *bench) measure(t *target, name string, strict bool, phase func() *outcome) (measurement, error) {
	cpu0, err := cpuTime(t.proc.pid())
	if err != nil {
		return measurement{}, err
	}
	up0, err := cpuTime(b.upstream.pid())
	if err != nil {
		return measurement{}, err
	}
	self0, err := cpuTime(os.Getpid())
	if err != nil {
		return measurement{}, err
	}
	o := phase()
	cpu1, err1 := cpuTime(t.proc.pid())
	up1, err2 := cpuTime(b.upstream.pid())
	self1, err3 := cpuTime(os.Getpid())
	for _, c := range []*child{t.proc, b.upstream} {
		if err := c.alive(); err != nil {
			return measurement{}, err
		}
	}
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return measurement{}, err
		}
	}
	if o.failed > 0 && strict {
		return measurement{}, fmt.Errorf("%s, %s: %d of %d requests failed (status→count, 0 = transport error: %v); first: %s\n%s",
			t.title, name, o.failed, o.requests+o.failed, o.status, o.failure, t.proc.logTail())
	}
	return measurement{outcome: o, cpu: cpu1 - cpu0, upstreamCPU: up1 - up0, loadCPU: self1 - self0}, nil
}

// saturation drives every target with the closed-loop load, one target
// after the other in each round (a bare twin right before its gateway
// configuration), so drift of the machine hits all alike and each pair most
// alike. Only gateways have their token pool primed: the bare proxy caches
// nothing.
func (b *bench) saturation(ctx context.Context) error {
	for _, t := range b.targets {
		if t.twin != nil && len(t.spec.values) > 1 {
			if o := prime(ctx, t.client, &t.spec, b.opts.concurrency); o.failed > 0 {
				return fmt.Errorf("%s: priming the token pool: %d requests failed; first: %s", t.title, o.failed, o.failure)
			}
		}
	}
	for r := range b.opts.rounds {
		var line []string
		for _, t := range b.targets {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			run := func(d time.Duration) func() *outcome {
				return func() *outcome { return closedLoop(ctx, t.client, &t.spec, b.opts.concurrency, d) }
			}
			if b.opts.warmup > 0 {
				if _, err := b.measure(t, "warm-up", true, run(b.opts.warmup)); err != nil {
					return err
				}
			}
			phase := run(b.opts.duration)
			if b.opts.profile != "" && t.twin != nil && r == b.opts.rounds-1 {
				phase = b.profiled(ctx, t, phase)
			}
			m, err := b.measure(t, fmt.Sprintf("round %d", r+1), true, phase)
			if err != nil {
				return err
			}
			t.closed = append(t.closed, m)
			line = append(line, fmt.Sprintf("%s %.0f/s", t.key, m.rps()))
		}
		b.progress("round %d/%d: %s", r+1, b.opts.rounds, strings.Join(line, ", "))
	}
	return ctx.Err()
}

// halfSaturation compares configuration (c) with its bare twin (the bare
// proxy driven with (c)'s requests), open loop, at half the twin's
// saturation throughput and at half (c)'s own (the first is more than (c)
// can serve when its ratio is below 0.5).
// Failed requests are counted, not fatal, here: an overloaded gateway
// sheds load (e.g. policy_timeout) and that is a result worth reporting.
func (b *bench) halfSaturation(ctx context.Context) (*halfReport, error) {
	i := slices.IndexFunc(b.targets, func(t *target) bool { return t.key == "c" })
	if i < 0 {
		b.progress("half saturation skipped: configuration c is not selected")
		return nil, nil
	}
	full := b.targets[i]
	bare := full.twin
	levels := []*halfLevel{
		{name: "half the saturation of the bare proxy with (c)'s requests", rate: summarize(bare).RPS / 2},
		{name: "half (c)'s saturation", rate: summarize(full).RPS / 2},
	}
	for r := range b.opts.rounds {
		for _, l := range levels {
			for j, t := range []*target{bare, full} {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				run := func(d time.Duration) func() *outcome {
					return func() *outcome { return openLoop(ctx, t.client, &t.spec, b.opts.concurrency, l.rate, d) }
				}
				if b.opts.warmup > 0 {
					if _, err := b.measure(t, "open-loop warm-up", false, run(b.opts.warmup)); err != nil {
						return nil, err
					}
				}
				before, err := gatewayTime(ctx, t)
				if err != nil {
					return nil, err
				}
				m, err := b.measure(t, fmt.Sprintf("open loop at %.0f/s, round %d", l.rate, r+1), false, run(b.opts.duration))
				if err != nil {
					return nil, err
				}
				l.runs[j] = append(l.runs[j], m)
				after, err := gatewayTime(ctx, t)
				if err != nil {
					return nil, err
				}
				l.gatewayTime.add(before, after)
			}
		}
		b.progress("open-loop round %d/%d done", r+1, b.opts.rounds)
	}
	h := &halfReport{}
	for _, l := range levels {
		h.Levels = append(h.Levels, l.report(bare, full))
	}
	return h, ctx.Err()
}

// rps is the measurement's completed requests per second.
func (m measurement) rps() float64 {
	return float64(m.requests) / m.elapsed.Seconds()
}
