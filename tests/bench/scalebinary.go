package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/keygen"
	"github.com/portcullis/portcullis/internal/scalebench"
)

// startChildren builds the gateway (unless -gateway names one) and starts
// the upstream and the bare proxy the binary axes use.
func (s *scaleRun) startChildren(ctx context.Context) error {
	if s.opts.gateway == "" {
		bin, err := buildGateway(ctx, s.root, s.dir)
		if err != nil {
			return err
		}
		s.opts.gateway = bin
	}
	up, upAddr, err := startRole("upstream", filepath.Join(s.dir, "upstream.log"), "upstream")
	if err != nil {
		return err
	}
	s.children, s.upstream, s.upstreamURL = append(s.children, up), up, "http://"+upAddr
	bare, bareAddr, err := startRole("bare proxy", filepath.Join(s.dir, "bareproxy.log"), "bareproxy", "-upstream="+s.upstreamURL)
	if err != nil {
		return err
	}
	s.children, s.bare, s.bareBase = append(s.children, bare), bare, "http://"+bareAddr
	return nil
}

// scaleGateway is a running gateway of one point.
type scaleGateway struct {
	*child
	proxy, admin string
	ready        time.Duration // from the start to /readyz answering 200
}

// startGateway writes config (whose listen block it prepends) to dir and
// starts the gateway on it.
func (s *scaleRun) startGateway(ctx context.Context, name, config string) (*scaleGateway, error) {
	proxy, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// Logging at warn and the policy watcher off, as in make bench; the
	// policy timeout is 1s for the same reason (base.yaml.tmpl). A short
	// shutdown grace: the load's idle keep-alive connections would hold
	// every stop for the whole grace. /debug/pprof/ on the admin listener,
	// for a profile of a point (see README, "Operations").
	text := fmt.Sprintf("listen: {proxy: %q, admin: %q, shutdown_grace: 200ms, pprof: true}\nlog: {level: warn, format: json}\n%s", proxy, admin, config)
	path := filepath.Join(s.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return nil, err
	}
	t0 := time.Now()
	c, _, err := startChild("gateway "+name, filepath.Join(s.dir, name+".log"), []string{s.opts.gateway, "run", "--config", path}, false)
	if err != nil {
		return nil, err
	}
	g := &scaleGateway{child: c, proxy: proxy, admin: admin}
	if err := c.waitReadyWithin(ctx, "http://"+admin+"/readyz", 5*time.Minute); err != nil {
		c.stop()
		return nil, err
	}
	g.ready = time.Since(t0)
	return g, nil
}

// policyYAML is the policy block of a scale config over the bundle at dir.
func policyYAML(dir string) string {
	return fmt.Sprintf("policy:\n  bundles: [{name: scale, path: %q}]\n  decision: data.portcullis.authz.decision\n  timeout: 1s\n  watch: false\n  max_bundle_bytes: 1GiB\ndecision_log: {stdout: false}\n", dir)
}

// routesPoint starts a gateway with n anonymous routes (as
// BenchmarkScaleRoutes builds them) and an allow-all policy, measures its
// start, memory and a reload, and at the extremes its throughput on the
// last route against the bare twin.
func (s *scaleRun) routesPoint(ctx context.Context, n int, extreme bool) (*binaryPoint, error) {
	cfg := policyYAML(filepath.Join(s.dir, "allowall")) + scalebench.RoutesYAML(n, s.upstreamURL)
	if err := writeAllowAll(s.dir); err != nil {
		return nil, err
	}
	g, err := s.startGateway(ctx, fmt.Sprintf("routes-%d", n), cfg)
	if err != nil {
		return nil, err
	}
	defer g.stop()
	path := fmt.Sprintf("/svc%d/users/42", n-1)
	return s.measurePoint(ctx, g, extreme,
		requestSpec{method: "GET", url: "http://" + g.proxy + path},
		requestSpec{method: "GET", url: s.bareBase + path})
}

// apiKeysPoint starts a gateway whose bundle holds n API-key consumers
// (internal/keygen's, one file) and the example policy, measures its start
// and memory, at the extremes its throughput against the bare twin, then
// two revocations by reloads while other keys' requests run: one key
// removed from the key file, then another put on the revocation list,
// which leaves the key file as it is.
func (s *scaleRun) apiKeysPoint(ctx context.Context, n int, extreme bool) (*binaryPoint, error) {
	dir := filepath.Join(s.dir, fmt.Sprintf("keys-%d", n))
	rego, err := os.ReadFile(filepath.Join(s.root, "bundles", "portcullis", "authz.rego"))
	if err != nil {
		return nil, err
	}
	consumers := filepath.Join(dir, "portcullis", "consumers")
	t0 := time.Now()
	if err := keygen.Write(consumers, n, keygen.OneFile, nil); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authz.rego"), rego, 0o644); err != nil {
		return nil, err
	}
	data := filepath.Join(consumers, "data.json")
	progress("api-keys: wrote %d keys (%s) in %s", n, fileSize(data), time.Since(t0).Round(time.Millisecond))
	cfg := "authn:\n  api_keys: {header: X-API-Key, data_path: portcullis.consumers, revoked_data_path: portcullis.revoked_api_keys}\n" + policyYAML(dir) +
		fmt.Sprintf("routes:\n  - {name: users-api, match: {path_prefix: /api/v1}, upstream: %q, tags: [users], authn: {methods: [api_key]}}\n", s.upstreamURL)
	g, err := s.startGateway(ctx, fmt.Sprintf("keys-%d", n), cfg)
	if err != nil {
		return nil, err
	}
	defer g.stop()
	// The load uses up to 1 000 keys but never the two that are revoked,
	// the last (from the key file) and the one before (by the list).
	pool := make([]string, max(1, min(n-2, 1000)))
	for i := range pool {
		pool[i] = keygen.Key(i)
	}
	byEdit, byList := n-1, max(0, n-2)
	probe := func(i int) requestSpec {
		return requestSpec{method: "GET", url: "http://" + g.proxy + usersPath, header: "X-API-Key", values: []string{keygen.Key(i)}}
	}
	// The key file without the last key is written beside it first, so
	// that the change the reload sees is one rename, not the writing.
	edit, err := keygen.Revocation(consumers, byEdit, n, keygen.OneFile)
	if err != nil {
		return nil, err
	}
	list := filepath.Join(dir, "portcullis", "revoked_api_keys")
	spec := requestSpec{method: "GET", url: "http://" + g.proxy + usersPath, header: "X-API-Key", values: pool}
	twin := requestSpec{method: "GET", url: s.bareBase + usersPath, header: "X-API-Key", values: pool}
	return s.measurePoint(ctx, g, extreme, spec, twin,
		&revocationStep{change: edit, probe: probe(byEdit)},
		&revocationStep{change: func() error { return keygen.WriteRevoked(list, byList) }, probe: probe(byList)})
}

// revocationStep is the change a reload activates, and the request that
// is refused once it has.
type revocationStep struct {
	change func() error
	probe  requestSpec
}

// measurePoint measures the memory of a ready gateway, at the extremes its
// load against the twin, then reloads: with revs, one per step (the first
// is Revocation, the second ListRevocation), each of its change while spec
// runs at a fixed rate; without, one of the unchanged config.
func (s *scaleRun) measurePoint(ctx context.Context, g *scaleGateway, extreme bool, spec, twin requestSpec, revs ...*revocationStep) (*binaryPoint, error) {
	client := newClient(s.opts.concurrency)
	if got, err := statusOf(ctx, client, &spec); err != nil || got != http.StatusOK {
		return nil, fmt.Errorf("the gateway answers %s %s with %d (%v), want 200:\n%s", spec.method, spec.url, got, err, g.logTail())
	}
	bp := &binaryPoint{ReadyS: g.ready.Seconds()}
	rss, err := residentRSS(g.pid())
	if err != nil {
		return nil, err
	}
	bp.RSSMiB = float64(rss) / (1 << 20)
	if extreme {
		if bp.Load, err = s.compareLoad(ctx, g, client, spec, twin); err != nil {
			return nil, err
		}
	}
	if len(revs) == 0 {
		if bp.ReloadS, _, err = s.reload(ctx, g, client, spec, nil); err != nil {
			return nil, err
		}
	}
	for i, rev := range revs {
		reloadS, v, err := s.reload(ctx, g, client, spec, rev)
		if err != nil {
			return nil, err
		}
		switch i {
		case 0:
			bp.ReloadS, bp.Revocation = reloadS, v
		case 1:
			bp.ListRevocation = v
		}
	}
	peak, err := peakRSS(g.pid())
	if err != nil {
		return nil, err
	}
	bp.PeakRSSMiB = float64(peak) / (1 << 20)
	return bp, nil
}

// reload sends SIGHUP and waits for the new generation: with rev, after
// making its change and while spec runs at a fixed rate, until rev's probe
// is refused too.
func (s *scaleRun) reload(ctx context.Context, g *scaleGateway, client *http.Client, spec requestSpec, rev *revocationStep) (float64, *revocation, error) {
	gen, err := generation(ctx, g.admin)
	if err != nil {
		return 0, nil, err
	}
	var load chan *outcome
	cancel := func() {}
	if rev != nil {
		if got, err := statusOf(ctx, client, &rev.probe); err != nil || got != http.StatusOK {
			return 0, nil, fmt.Errorf("the key to revoke is refused before the reload: %d (%v)", got, err)
		}
		if err := rev.change(); err != nil {
			return 0, nil, err
		}
		var lctx context.Context
		lctx, cancel = context.WithCancel(ctx)
		load = make(chan *outcome, 1)
		go func() { load <- openLoop(lctx, client, &spec, 8, revocationRate, 10*time.Minute) }()
	}
	defer cancel()
	sent := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return 0, nil, err
	}
	var effective time.Duration
	var reloadS float64
	probe := newClient(1)
	for deadline := sent.Add(5 * time.Minute); ; {
		if err := g.alive(); err != nil {
			return 0, nil, err
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("no new generation 5 minutes after SIGHUP:\n%s", g.logTail())
		}
		if rev != nil && effective == 0 {
			if got, err := statusOf(ctx, probe, &rev.probe); err == nil && got/100 == 4 {
				effective = time.Since(sent)
			}
		}
		if now, err := generation(ctx, g.admin); err == nil && now > gen && (rev == nil || effective > 0) {
			reloadS = time.Since(sent).Seconds()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rev == nil {
		return reloadS, nil, nil
	}
	cancel()
	o := <-load
	return reloadS, &revocation{EffectiveS: effective.Seconds(), RateRPS: revocationRate, Requests: o.requests, Failed: o.failed,
		P99Ms: float64(o.latency.quantile(0.99).Microseconds()) / 1e3, MaxMs: float64(o.latency.quantile(1).Microseconds()) / 1e3}, nil
}

// revocationRate is the fixed rate of requests during a revocation: well
// below saturation, so that their latency is the reload's doing.
const revocationRate = 200

// compareLoad drives the twin then the gateway with the closed-loop load,
// interleaved for -rounds rounds, after priming the gateway.
func (s *scaleRun) compareLoad(ctx context.Context, g *scaleGateway, client *http.Client, spec, twin requestSpec) (*loadFigures, error) {
	twinClient := newClient(s.opts.concurrency)
	if o := prime(ctx, client, &spec, s.opts.concurrency); o.failed > 0 {
		return nil, fmt.Errorf("priming: %d requests failed; first: %s", o.failed, o.failure)
	}
	b := &bench{opts: s.opts, upstream: s.upstream}
	gw := &target{title: "gateway", proc: g.child, spec: spec, client: client}
	bare := &target{title: "bare twin", proc: s.bare, spec: twin, client: twinClient}
	for range s.opts.rounds {
		for _, t := range []*target{bare, gw} {
			run := func(d time.Duration) func() *outcome {
				return func() *outcome { return closedLoop(ctx, t.client, &t.spec, s.opts.concurrency, d) }
			}
			if s.opts.warmup > 0 {
				if _, err := b.measure(t, "warm-up", true, run(s.opts.warmup)); err != nil {
					return nil, err
				}
			}
			m, err := b.measure(t, "load", true, run(s.opts.duration))
			if err != nil {
				return nil, err
			}
			t.closed = append(t.closed, m)
		}
	}
	gs, bs := summarize(gw), summarize(bare)
	l := &loadFigures{RPS: gs.RPS, TwinRPS: bs.RPS, CPUUsPerRequest: gs.CPUPer10k * 100, P99Us: gs.P99}
	if bs.RPS > 0 {
		l.RatioToTwin = gs.RPS / bs.RPS
	}
	return l, nil
}

// generation is the number of the gateway's running generation, from
// admin's /v1/status: far cheaper than /metrics, which with 10 000 routes
// is 40 MB and most of a CPU second per scrape.
func generation(ctx context.Context, admin string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+admin+"/v1/status", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Status struct {
			Generation uint64 `json:"generation"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("gateway status: %w", err)
	}
	if st.Status.Generation == 0 {
		return 0, errors.New("gateway status has no generation")
	}
	return st.Status.Generation, nil
}

// fileSize is path's size for a progress line.
func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}
