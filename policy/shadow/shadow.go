// Package shadow evaluates candidate bundles on live traffic, off the request's path, and counts where they diverge from the enforced decisions.
package shadow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/decisionlog"
	"github.com/portcullis/portcullis/policy/engine"
)

// Outcomes of a shadow decision against the enforced one, the values of
// the outcome label of portcullis_policy_shadow_total.
const (
	Same        = "same"
	AllowToDeny = "allow_to_deny"
	DenyToAllow = "deny_to_allow"
)

// Options configures an Evaluator.
type Options struct {
	// Engine holds the candidate bundles. Required.
	Engine *engine.Engine
	// Sample is the fraction of submitted requests evaluated, in (0, 1]. Required.
	Sample float64
	// QueueSize bounds the requests waiting for evaluation. Required.
	QueueSize int
	// Log receives one event per divergence; nil counts them only.
	Log *decisionlog.Logger
	// Registerer, when non-nil, registers the metrics.
	Registerer prometheus.Registerer
	// Previous is the evaluator this one replaces on reload. When its
	// bundles are the same (same names, revisions and content hashes), the
	// counts of /v1/status continue from it: they are "since the candidate
	// was activated", not since the last unrelated reload.
	Previous *Evaluator
}

// Evaluator evaluates the shadow decision of submitted requests on its own
// goroutine. Submit never blocks: a full queue drops the request, counted.
// Its methods are safe for concurrent use.
type Evaluator struct {
	eng    *engine.Engine
	sample float64
	log    *decisionlog.Logger
	m      *metrics
	c      *counts

	queue   chan job
	started atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type job struct {
	in       *policy.Input
	enforced bool
	ev       *decisionlog.Event
}

// counts are the totals of /v1/status since the candidate's activation.
type counts struct {
	since                                        time.Time
	bundles                                      map[string]policy.BundleID
	evaluated, allowToDeny, denyToAllow, dropped atomic.Int64
}

// New returns a stopped Evaluator (see Start).
func New(opts Options) (*Evaluator, error) {
	var errs []error
	if opts.Engine == nil {
		errs = append(errs, errors.New("no engine"))
	}
	if !(opts.Sample > 0 && opts.Sample <= 1) {
		errs = append(errs, fmt.Errorf("sample %v: want >0..1", opts.Sample))
	}
	if opts.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("queue size %d: want > 0", opts.QueueSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Evaluator{
		eng: opts.Engine, sample: opts.Sample, log: opts.Log, m: m,
		queue: make(chan job, opts.QueueSize), stop: make(chan struct{}), done: make(chan struct{}),
	}
	bundles := identities(opts.Engine.Status())
	if p := opts.Previous; p != nil && maps.Equal(p.c.bundles, bundles) {
		e.c = p.c
	} else {
		e.c = &counts{since: time.Now(), bundles: bundles}
	}
	return e, nil
}

func identities(s engine.Status) map[string]policy.BundleID {
	ids := make(map[string]policy.BundleID, len(s.Bundles))
	for _, b := range s.Bundles {
		ids[b.Name] = policy.BundleID{Revision: b.Revision, Hash: b.Hash}
	}
	return ids
}

// Start launches the evaluating goroutine; a second call does nothing.
func (e *Evaluator) Start() {
	if e.started.CompareAndSwap(false, true) {
		go e.run()
	}
}

// Submit queues the shadow evaluation of in, whose enforced policy
// decision was enforced; ev, when not nil, is the request's decision-log
// event, written again with portcullis.shadow if the decisions differ. In
// and ev must not be modified afterwards. Submit never blocks and reports
// whether the request was queued: a request not sampled is not, and one
// that finds the queue full is dropped and counted.
func (e *Evaluator) Submit(in *policy.Input, enforced *policy.Decision, ev *decisionlog.Event) bool {
	if e.sample < 1 && rand.Float64() >= e.sample {
		return false
	}
	select {
	case e.queue <- job{in: in, enforced: enforced.Allow, ev: ev}:
		return true
	default:
		e.c.dropped.Add(1)
		e.m.dropped.Inc()
		return false
	}
}

func (e *Evaluator) run() {
	defer close(e.done)
	for {
		select {
		case j := <-e.queue:
			e.evaluate(j)
		case <-e.stop:
			for { // what was queued before Close is still evaluated
				select {
				case j := <-e.queue:
					e.evaluate(j)
				default:
					return
				}
			}
		}
	}
}

func (e *Evaluator) evaluate(j job) {
	d := e.eng.Evaluate(context.Background(), j.in)
	outcome := Same
	switch {
	case j.enforced && !d.Allow:
		outcome = AllowToDeny
		e.c.allowToDeny.Add(1)
	case !j.enforced && d.Allow:
		outcome = DenyToAllow
		e.c.denyToAllow.Add(1)
	}
	// Evaluated is counted last: a reader who sees it (Status) sees the
	// direction and the metric of every evaluation it covers.
	e.m.total.WithLabelValues(j.in.Route.Name, outcome).Inc()
	e.c.evaluated.Add(1)
	if outcome == Same || j.ev == nil || e.log == nil {
		return
	}
	ev := *j.ev
	ev.Shadow = &decisionlog.Shadow{Allow: d.Allow, Reasons: d.Reasons, Outcome: outcome, Bundles: d.Bundles}
	e.log.Log(context.Background(), &ev)
}

// Close stops the goroutine after it evaluated what is queued, and
// returns when it did or when ctx ends; a never started Evaluator
// returns at once. Submit after Close still never
// blocks (the queue fills and drops).
func (e *Evaluator) Close(ctx context.Context) {
	e.once.Do(func() { close(e.stop) })
	if !e.started.Load() { // a generation that never ran: nothing to wait for
		return
	}
	select {
	case <-e.done:
	case <-ctx.Done():
	}
}

// Status is the shadow's summary on /v1/status.
type Status struct {
	// Bundles are the candidate bundles, with revision and content hash.
	Bundles []engine.BundleStatus `json:"bundles"`
	// Since is when these bundles were activated; the counts start there.
	Since  time.Time `json:"since"`
	Sample float64   `json:"sample"`
	// Evaluated shadow decisions, of which Diverged differed from the
	// enforced one: AllowToDeny + DenyToAllow.
	Evaluated   int64 `json:"evaluated"`
	Diverged    int64 `json:"diverged"`
	AllowToDeny int64 `json:"allow_to_deny"`
	DenyToAllow int64 `json:"deny_to_allow"`
	// Dropped requests found the queue full; Queued wait in it now.
	Dropped int64 `json:"dropped"`
	Queued  int   `json:"queued"`
}

// Status returns the counts since the candidate bundles were activated.
func (e *Evaluator) Status() Status {
	c := e.c
	// Evaluated first: every evaluation it covers has its direction
	// counted already (see evaluate).
	s := Status{Evaluated: c.evaluated.Load(), Bundles: e.eng.Status().Bundles, Since: c.since, Sample: e.sample}
	s.AllowToDeny, s.DenyToAllow = c.allowToDeny.Load(), c.denyToAllow.Load()
	s.Dropped, s.Queued = c.dropped.Load(), len(e.queue)
	s.Diverged = s.AllowToDeny + s.DenyToAllow
	return s
}

type metrics struct {
	total   *prometheus.CounterVec
	dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	total, err := promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_policy_shadow_total",
		Help: "Shadow (policy.shadow) decisions by route and outcome against the enforced decision: same, allow_to_deny, deny_to_allow.",
	}, []string{"route", "outcome"}))
	if err != nil {
		return nil, err
	}
	dropped, err := promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_policy_shadow_dropped_total",
		Help: "Requests not shadowed because the shadow queue (policy.shadow.queue_size) was full.",
	}))
	if err != nil {
		return nil, err
	}
	return &metrics{total: total, dropped: dropped}, nil
}
