package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"
)

// report is what a run prints and writes to bench-results/<timestamp>.json.
type report struct {
	Started        time.Time     `json:"started"`
	Host           hostInfo      `json:"host"`
	Settings       settings      `json:"settings"`
	Targets        []targetStats `json:"targets"`
	HalfSaturation *halfReport   `json:"half_saturation,omitempty"`
}

type hostInfo struct {
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	Platform   string `json:"platform"`
}

type settings struct {
	Duration    string `json:"duration"`
	Warmup      string `json:"warmup"`
	Rounds      int    `json:"rounds"`
	Concurrency int    `json:"concurrency"`
	Tokens      int    `json:"tokens"`
}

// targetStats summarizes the closed-loop rounds of one target: a gateway
// configuration ("a" …) or the bare proxy driven with a configuration's
// requests, its bare twin ("bare-a" …), or with -only "" the bare proxy
// alone ("bare").
type targetStats struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	// Twin is, for a gateway configuration, the key of its bare twin.
	Twin     string    `json:"twin,omitempty"`
	Requests uint64    `json:"requests"`
	RPS      float64   `json:"rps"`
	RoundRPS []float64 `json:"round_rps"`
	// RatioToBare is RPS over the twin's RPS: the bare proxy forwarding
	// exactly the same requests, measured in the same rounds (1 for a bare
	// row). RatioToBareGet is RPS over the RPS of the bare proxy driven with
	// plain GETs (bare-a), as ratio_to_bare was before the twins; absent
	// when (a) was not run.
	RatioToBare    float64  `json:"ratio_to_bare"`
	RatioToBareGet *float64 `json:"ratio_to_bare_get,omitempty"`
	// RoundRatioMedian is the median over rounds of a round's RPS over its
	// twin's in the same round (measured right before it): unlike
	// RatioToBare, a round in which the machine was slower for one of the
	// pair moves it little. 1 for a bare row, 0 without a twin's rounds.
	RoundRatioMedian float64 `json:"round_ratio_median"`
	latencies
	// CPUPer10k is the target's CPU seconds (user+system) per 10 000
	// requests; UpstreamCPUPer10k and LoadCPUPer10k are the same for the
	// upstream and the load generator, equal for every target if the
	// benchmark is fair.
	CPUPer10k         float64 `json:"cpu_s_per_10k"`
	UpstreamCPUPer10k float64 `json:"upstream_cpu_s_per_10k"`
	LoadCPUPer10k     float64 `json:"loadgen_cpu_s_per_10k"`
	// PeakRSSMiB is the target's VmHWM at the end of the run (for the bare
	// twins, which share one process, that process's).
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// DecisionLogBytes is what configuration (c) wrote to its decision log.
	DecisionLogBytes int64 `json:"decision_log_bytes,omitempty"`
}

// latencies are quantiles in microseconds.
type latencies struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
}

func latenciesOf(h *histogram) latencies {
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return latencies{P50: us(h.quantile(0.5)), P99: us(h.quantile(0.99)), P999: us(h.quantile(0.999)), Max: us(h.quantile(1))}
}

// summarize merges t's closed-loop rounds; compare sets the ratios.
func summarize(t *target) targetStats {
	s := targetStats{Key: t.key, Title: t.title}
	if t.twin != nil {
		s.Twin = t.twin.key
	}
	var all outcome
	var elapsed, cpu, up, load time.Duration
	for _, m := range t.closed {
		all.merge(m.outcome)
		elapsed += m.elapsed
		cpu, up, load = cpu+m.cpu, up+m.upstreamCPU, load+m.loadCPU
		s.RoundRPS = append(s.RoundRPS, m.rps())
	}
	s.Requests = all.requests
	if elapsed > 0 {
		s.RPS = float64(all.requests) / elapsed.Seconds()
	}
	s.latencies = latenciesOf(&all.latency)
	if all.requests > 0 {
		per := func(d time.Duration) float64 { return d.Seconds() * 1e4 / float64(all.requests) }
		s.CPUPer10k, s.UpstreamCPUPer10k, s.LoadCPUPer10k = per(cpu), per(up), per(load)
	}
	return s
}

// compare sets the ratios of rows: RatioToBare is a row's RPS over that of
// the row keyed by its Twin (1 for a row without a twin, 0 if the twin
// served nothing or is missing); RatioToBareGet is its RPS over that of the
// row keyed getKey, left unset when no such row served anything.
func compare(rows []targetStats, getKey string) {
	rps := make(map[string]float64, len(rows))
	rounds := make(map[string][]float64, len(rows))
	for _, r := range rows {
		rps[r.Key], rounds[r.Key] = r.RPS, r.RoundRPS
	}
	ratio := func(n, d float64) float64 {
		if d <= 0 {
			return 0
		}
		return n / d
	}
	for i := range rows {
		r := &rows[i]
		r.RatioToBare, r.RoundRatioMedian = 1, 1
		if r.Twin != "" {
			r.RatioToBare = ratio(r.RPS, rps[r.Twin])
			r.RoundRatioMedian = medianRatio(r.RoundRPS, rounds[r.Twin])
		}
		r.RatioToBareGet = nil
		if get := rps[getKey]; get > 0 {
			v := ratio(r.RPS, get)
			r.RatioToBareGet = &v
		}
	}
}

// medianRatio is the median of the pairwise ratios of rounds to twin's
// rounds, over the rounds both have (0 for none, or a twin round of 0).
func medianRatio(rounds, twin []float64) float64 {
	n := min(len(rounds), len(twin))
	if n == 0 {
		return 0
	}
	rs := make([]float64, n)
	for i := range rs {
		if twin[i] <= 0 {
			return 0
		}
		rs[i] = rounds[i] / twin[i]
	}
	slices.Sort(rs)
	if n%2 == 1 {
		return rs[n/2]
	}
	return (rs[n/2-1] + rs[n/2]) / 2
}

// halfReport compares configuration (c) with its bare twin (the bare proxy
// driven with (c)'s requests) under open-loop load at fixed rates.
type halfReport struct {
	Levels []halfLevelStats `json:"levels"`
}

// halfLevel is one open-loop rate and its measurements.
type halfLevel struct {
	name string
	rate float64
	runs [2][]measurement // (c)'s bare twin, (c); one per round
	// gatewayTime is what (c) itself measured of its own time
	// (gatewayTimeMetric) during its runs.
	gatewayTime buckets
}

type halfLevelStats struct {
	Name      string     `json:"name"`
	TargetRPS float64    `json:"target_rps"`
	Rows      []halfStat `json:"rows"`
	// GatewayAddedP99 is (c)'s p99 minus its bare twin's, in microseconds.
	GatewayAddedP99 float64 `json:"gateway_added_p99_us"`
	// InGateway is the gateway's own time as it measured it: all of a
	// request's latency but the exchange with the upstream.
	InGateway inGateway `json:"in_gateway"`
}

// inGateway summarizes (c)'s gatewayTimeMetric histogram over its runs.
type inGateway struct {
	Requests uint64 `json:"requests"`
	// P99AtMost is the smallest bucket bound (µs) at or below which 99 % of
	// the requests lie; null when the buckets cannot tell.
	P99AtMost *float64 `json:"p99_at_most_us"`
	// Within1ms is the fraction of requests the gateway spent at most 1 ms on.
	Within1ms float64 `json:"within_1ms"`
}

func inGatewayOf(b buckets) inGateway {
	g := inGateway{Requests: b.total(), Within1ms: b.within(0.001)}
	if q := b.quantileBound(0.99); !math.IsInf(q, 1) {
		us := q * 1e6
		g.P99AtMost = &us
	}
	return g
}

type halfStat struct {
	Key         string  `json:"key"`
	Title       string  `json:"title"`
	AchievedRPS float64 `json:"achieved_rps"`
	// Missed counts requests the schedule wanted but the target was too
	// slow to be sent in time; nonzero means it could not sustain the rate.
	Missed uint64 `json:"missed"`
	// Failed counts non-2xx answers and transport errors, by status
	// (0 = transport error).
	Failed   uint64         `json:"failed"`
	Statuses map[int]uint64 `json:"failed_statuses,omitempty"`
	// latencies count from the scheduled send time (no coordinated
	// omission); ServiceP99 from the actual send.
	latencies
	ServiceP99 float64 `json:"service_p99_us"`
}

func (l *halfLevel) report(bare, full *target) halfLevelStats {
	h := halfLevelStats{Name: l.name, TargetRPS: l.rate}
	for i, t := range []*target{bare, full} {
		var all outcome
		var elapsed time.Duration
		for _, m := range l.runs[i] {
			all.merge(m.outcome)
			elapsed += m.elapsed
		}
		st := halfStat{Key: t.key, Title: t.title, Missed: all.missed, Failed: all.failed, Statuses: all.status,
			latencies: latenciesOf(&all.latency), ServiceP99: latenciesOf(&all.service).P99}
		if elapsed > 0 {
			st.AchievedRPS = float64(all.requests) / elapsed.Seconds()
		}
		h.Rows = append(h.Rows, st)
	}
	h.GatewayAddedP99 = h.Rows[1].P99 - h.Rows[0].P99
	h.InGateway = inGatewayOf(l.gatewayTime)
	return h
}

// report collects the results; call it while the children still run.
func (b *bench) report(started time.Time, half *halfReport) (*report, error) {
	r := &report{
		Started: started,
		Host: hostInfo{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			Platform: runtime.GOOS + "/" + runtime.GOARCH},
		Settings: settings{Duration: b.opts.duration.String(), Warmup: b.opts.warmup.String(), Rounds: b.opts.rounds,
			Concurrency: b.opts.concurrency, Tokens: b.opts.tokens},
		HalfSaturation: half,
	}
	for _, t := range b.targets {
		s := summarize(t)
		rss, err := peakRSS(t.proc.pid())
		if err != nil {
			return nil, err
		}
		s.PeakRSSMiB = float64(rss) / (1 << 20)
		if t.key == "c" {
			logs, _ := filepath.Glob(filepath.Join(b.dir, "decisions-c*.log"))
			for _, f := range logs {
				if fi, err := os.Stat(f); err == nil {
					s.DecisionLogBytes += fi.Size()
				}
			}
			if s.DecisionLogBytes == 0 {
				return nil, fmt.Errorf("%s wrote no decision log: the benchmark did not measure what it claims", t.title)
			}
		}
		r.Targets = append(r.Targets, s)
	}
	compare(r.Targets, bareKey("a"))
	return r, nil
}

// print writes the tables. The closed-loop rows come in the measuring
// order, each gateway configuration right below its bare twin.
func (r *report) print(w io.Writer) {
	twins := ""
	if slices.ContainsFunc(r.Targets, func(s targetStats) bool { return s.Twin != "" }) {
		twins = "; × bare is req/s over the bare proxy driven with the same requests (the row above)"
	}
	fmt.Fprintf(w, "\nsaturation: closed loop, %d connections, %d rounds of %s, %s, GOMAXPROCS %d%s\n\n",
		r.Settings.Concurrency, r.Settings.Rounds, r.Settings.Duration, r.Host.Platform, r.Host.GOMAXPROCS, twins)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\t× bare\tmedian round\tp50 µs\tp99 µs\tp99.9 µs\tCPU s/10k\tupstream CPU s/10k\tloadgen CPU s/10k\tpeak RSS MiB\t")
	for _, s := range r.Targets {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.1f\t\n", s.Title, s.RPS, s.RatioToBare, s.RoundRatioMedian,
			s.P50, s.P99, s.P999, s.CPUPer10k, s.UpstreamCPUPer10k, s.LoadCPUPer10k, s.PeakRSSMiB)
	}
	tw.Flush()
	if r.HalfSaturation == nil {
		return
	}
	for _, l := range r.HalfSaturation.Levels {
		fmt.Fprintf(w, "\nopen loop at %.0f req/s (%s)\n\n", l.TargetRPS, l.Name)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\treq/s\tmissed\tfailed\tp50 µs\tp99 µs\tp99.9 µs\tservice p99 µs\t")
		for _, s := range l.Rows {
			fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t\n", s.Title, s.AchievedRPS, s.Missed, s.Failed,
				s.P50, s.P99, s.P999, s.ServiceP99)
		}
		tw.Flush()
		fmt.Fprintf(w, "gateway-added p99: %.0f µs\n", l.GatewayAddedP99)
		p99 := "unknown (beyond the buckets)"
		if g := l.InGateway; g.P99AtMost != nil {
			p99 = fmt.Sprintf("at most %.0f µs", *g.P99AtMost)
		}
		fmt.Fprintf(w, "in-gateway time (its %s: all but the upstream exchange): p99 %s; %.1f %% of %d requests within 1 ms\n",
			gatewayTimeMetric, p99, 100*l.InGateway.Within1ms, l.InGateway.Requests)
		for _, s := range l.Rows {
			if s.Failed > 0 || s.Missed > 0 {
				fmt.Fprintf(w, "WARNING: %s did not sustain %.0f req/s: %d missed, failed by status %v\n", s.Title, l.TargetRPS, s.Missed, s.Statuses)
			}
		}
	}
}

// write stores the report as dir/<timestamp>.json and returns the path.
func (r *report) write(dir string, started time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, started.Format("20060102-150405")+".json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}
