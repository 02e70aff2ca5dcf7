package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/policy"
)

// processID is labels.id: one UUID per process, kept across reloads, as
// OPA's instance id.
var processID = uuid.NewString()

// Logger writes one event per decision to every sink it holds. Its
// methods are safe for concurrent use.
type Logger struct {
	masker                  Masker
	erase                   []pointer
	sampleAllow, sampleDeny float64
	labels                  []byte         // encoded once
	labelMap                map[string]any // the same, for the Masker
	bundles                 bundlesCell    // of the generation's decisions
	timestamps              timestampCell  // the current second's
	now                     func() time.Time
	log                     zerolog.Logger
	m                       *metrics
	sinks                   []Sink
	// owner is the only sink when it is a stream: it copies each line
	// before it writes, so it gets the encoding buffer itself and gives it
	// back to linePool. With other or more sinks every sink shares one
	// copy of the line, which a sink may keep.
	owner *stream

	mu     sync.RWMutex // write-held only by Close, so no write races a closed sink
	closed bool
}

// New returns a Logger writing to sinks, which it holds until Close (see
// [Sink]); a sink may be held by the Logger it replaces too. If New fails
// it holds none of them.
func New(opts Options, sinks ...Sink) (*Logger, error) {
	var errs []error
	for name, p := range map[string]float64{"sample.allow": opts.SampleAllow, "sample.deny": opts.SampleDeny} {
		if !(p >= 0 && p <= 1) {
			errs = append(errs, fmt.Errorf("%s: %v is out of range (want 0..1)", name, p))
		}
	}
	l := &Logger{
		masker:      opts.Masker,
		sampleAllow: opts.SampleAllow,
		sampleDeny:  opts.SampleDeny,
		now:         opts.Now,
		log:         opts.Logger,
		sinks:       slices.Clone(sinks),
	}
	if l.now == nil {
		l.now = time.Now
	}
	for i, s := range opts.Erase {
		p, err := parsePointer(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("erase[%d]: %w", i, err))
		}
		l.erase = append(l.erase, p)
	}
	labels := make(map[string]string, len(opts.Labels)+2)
	for k, v := range opts.Labels {
		labels[k] = v
	}
	labels["id"], labels["version"] = processID, opts.Version
	l.labelMap = make(map[string]any, len(labels))
	for _, p := range sortedPairs(nil, labels) {
		l.labels = append(appendString(append(l.labels, ','), p.k), ':')
		l.labels = appendString(l.labels, p.v)
		l.labelMap[p.k] = p.v
	}
	l.labels[0] = '{'
	l.labels = append(l.labels, '}')
	var err error
	if l.m, err = newMetrics(opts.Registerer); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	for _, s := range l.sinks {
		s.held().add()
	}
	if len(l.sinks) == 1 {
		l.owner, _ = l.sinks[0].(*stream)
	}
	return l, nil
}

// Sinks returns the sinks the Logger writes to, for a caller building the
// next Logger around those whose options are unchanged.
func (l *Logger) Sinks() []Sink { return slices.Clone(l.sinks) }

// Enabled reports whether the Logger has a sink; without one, Log does
// nothing and callers may skip building events.
func (l *Logger) Enabled() bool { return len(l.sinks) > 0 }

// Log writes ev to every sink, or drops it by sampling or the drop rule.
// It never waits for a sink. ev and its maps are not modified or retained.
func (l *Logger) Log(ctx context.Context, ev *Event) {
	if ev == nil || !l.Enabled() {
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.m.closed.Inc()
		return
	}
	if !l.keep(ev.Allow) {
		l.m.sampled.Inc()
		return
	}
	id, ts := ev.DecisionID, ev.Timestamp
	if id == "" {
		id = uuid.NewString()
	}
	if ts.IsZero() {
		ts = l.now()
	}
	d := doc{input: ev.Input, result: ev.Result}
	if (len(l.erase) > 0 || l.masker != nil) && !l.mask(ctx, ev, id, ts, &d) {
		l.m.ruled.Inc()
		return
	}
	bp := l.encode(ev, id, ts, &d)
	if l.owner != nil {
		l.owner.writeOwned(bp)
	} else {
		line := bytes.Clone(*bp)
		putLine(bp)
		for _, s := range l.sinks {
			s.Write(line)
		}
	}
	l.m.logged.Inc()
}

// keep samples: deny is every non-allow outcome.
func (l *Logger) keep(allow bool) bool {
	p := l.sampleDeny
	if allow {
		p = l.sampleAllow
	}
	return p >= 1 || (p > 0 && rand.Float64() < p)
}

// mask applies the erase pointers and the Masker to d, and reports whether
// the event is kept. It fails closed: when the input or result cannot be
// copied, or the mask rule fails or returns an invalid op, the event is
// kept (it is an audit record) with input and result erased entirely.
func (l *Logger) mask(ctx context.Context, ev *Event, id string, ts time.Time, d *doc) bool {
	// Erase pointers apply first, so the Masker never sees what they remove;
	// that needs Go copies of input and result. Without them the Masker
	// reads the values as they are (OPA values need no copy to be read),
	// and as most events get no op, they are copied only to apply one.
	copied := len(l.erase) > 0
	if copied {
		if err := d.copyValues(); err != nil {
			return l.maskFailed(ev, id, d, err)
		}
		for _, p := range l.erase {
			d.erase(p)
		}
	}
	if l.masker == nil || !l.masker.MaskActive() {
		return true
	}
	if in, ok := d.input.(*policy.Input); ok { // the Masker reads JSON documents
		v, err := toJSON(in)
		if err != nil {
			return l.maskFailed(ev, id, d, err)
		}
		d.input = v
	}
	// The client may be gone by now, cancelling ctx; the event must still be
	// masked as the rule says, so the Masker gets ctx's values without its
	// cancellation and bounds its evaluation itself.
	ops, drop, err := l.masker.Mask(context.WithoutCancel(ctx), l.eventMap(ev, id, ts, d))
	switch {
	case err != nil:
		return l.maskFailed(ev, id, d, err)
	case drop:
		return false
	case len(ops) == 0:
		return true
	}
	if !copied {
		if err := d.copyValues(); err != nil {
			return l.maskFailed(ev, id, d, err)
		}
	}
	for _, op := range ops {
		if err := d.apply(op); err != nil {
			return l.maskFailed(ev, id, d, err)
		}
	}
	return true
}

// maskFailed keeps the event (it is an audit record) with input and
// result erased entirely, and counts and logs the failure.
func (l *Logger) maskFailed(ev *Event, id string, d *doc, err error) bool {
	d.input, d.result = ev.Input, ev.Result // only to record what is erased
	d.eraseAll()
	l.m.maskErrors.Inc()
	l.log.Error().Err(err).Str("decision_id", id).Msg("decision log mask failed, input and result erased")
	return true
}

// eventMap is the event as the Masker sees it: the same keys as the line
// written, input and result as JSON documents.
func (l *Logger) eventMap(ev *Event, id string, ts time.Time, d *doc) map[string]any {
	labels := make(map[string]any, len(l.labelMap))
	for k, v := range l.labelMap {
		labels[k] = v
	}
	m := map[string]any{
		"labels":      labels,
		"decision_id": id,
		"path":        ev.Path,
		"timestamp":   ts.UTC().Format(time.RFC3339Nano),
		"metrics": map[string]any{
			"timer_rego_query_eval_ns": ev.EvalDuration.Nanoseconds(),
			"timer_server_handler_ns":  ev.Latency.Nanoseconds(),
		},
		"portcullis": map[string]any{
			"allow":           ev.Allow,
			"status":          ev.Status,
			"reasons":         stringsAny(ev.Reasons),
			"route":           ev.Route,
			"subject":         ev.Subject,
			"consumer":        ev.Consumer,
			"authn":           ev.AuthnMethod,
			"latency_ns":      ev.Latency.Nanoseconds(),
			"upstream_status": ev.UpstreamStatus,
			"cached":          ev.Cached,
		},
	}
	p := m["portcullis"].(map[string]any)
	if len(ev.Credentials) > 0 {
		cs := make([]any, len(ev.Credentials))
		for i, c := range ev.Credentials {
			cs[i] = map[string]any{"kind": c.Kind, "source": c.Source}
		}
		p["credentials"] = cs
	}
	if ev.RawPath != "" {
		p["raw_path"] = ev.RawPath
	}
	if d.input != nil {
		m["input"] = d.input
	}
	if d.result != nil {
		m["result"] = d.result
	}
	if len(d.erased) > 0 {
		m["erased"] = stringsAny(d.erased)
	}
	if len(ev.Bundles) > 0 {
		m["bundles"] = bundlesMap(ev.Bundles)
	}
	if s := ev.Shadow; s != nil {
		p["shadow"] = map[string]any{"allow": s.Allow, "outcome": s.Outcome, "reasons": stringsAny(s.Reasons), "bundles": bundlesMap(s.Bundles)}
	}
	if ev.TraceID != "" {
		m["trace_id"] = ev.TraceID
	}
	if ev.Error != "" {
		m["error"] = map[string]any{"message": ev.Error}
	}
	if ev.RequestedBy != "" {
		m["requested_by"] = ev.RequestedBy
	}
	if len(ev.RequestHeaders) > 0 {
		h := make(map[string]any, len(ev.RequestHeaders))
		for _, rh := range ev.RequestHeaders {
			h[rh.Name] = stringsAny(rh.Values)
		}
		m["request_context"] = map[string]any{"http": map[string]any{"headers": h}}
	}
	return m
}

func stringsAny(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}

// Accepting reports whether a request may proceed: false when a sink
// refuses more events (an HTTP sink with on_full fail_closed whose queue
// is full). The gateway then answers 503.
func (l *Logger) Accepting() bool {
	for _, s := range l.sinks {
		if !s.Accepting() {
			return false
		}
	}
	return true
}

// Reopen reopens every sink's file or connection: after logrotate renamed
// the file, the next write creates a new one. Call it on SIGHUP.
func (l *Logger) Reopen() error {
	var errs []error
	for _, s := range l.sinks {
		errs = append(errs, s.Reopen())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("decision log reopen: %w", err)
	}
	return nil
}

// Close stops logging (later events are counted as dropped_closed) and
// closes, within ctx, every sink no other open Logger holds: the HTTP
// sink delivers its queue, or spools what it cannot deliver. Spool writes
// finish even after ctx is done; only without a spool can events be lost,
// and they are counted and logged. Close is idempotent.
func (l *Logger) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	errs := make([]error, len(l.sinks))
	var wg sync.WaitGroup
	for i, s := range l.sinks {
		if s.held().release() {
			wg.Go(func() { errs[i] = s.Close(ctx) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("decision log close: %w", err)
	}
	return nil
}

// bundlesMap is the bundles object as the Masker sees it.
func bundlesMap(bundles map[string]policy.BundleID) map[string]any {
	b := make(map[string]any, len(bundles))
	for name, id := range bundles {
		b[name] = map[string]any{"revision": id.Revision, "hash": id.Hash}
	}
	return b
}
