// Package engine evaluates Rego decisions against the active bundles and reloads them atomically.
package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/policy/bundle"
)

// Options configures an Engine.
type Options struct {
	// Sources are the bundles, loaded together (their roots must not overlap).
	Sources []bundle.Source
	// Query is the decision rule (policy.decision). Required.
	Query string
	// Timeout bounds one evaluation (policy.timeout). Required.
	Timeout time.Duration
	// RequireTests runs the bundles' test_ rules before activating them;
	// a failing test, or no test at all, refuses the bundles.
	RequireTests bool
	// Signing, when non-nil, refuses bundles without a valid signature.
	Signing *bundle.Signing
	// MaxBundleBytes caps each bundle as read (policy.max_bundle_bytes). Required.
	MaxBundleBytes int64
	// MaskRule and DropRule are the decision-log rules (OPA semantics).
	// Required (decision_log.mask_rule and drop_rule).
	MaskRule string
	DropRule string
	// Logger receives reload outcomes. The zero value logs nothing.
	Logger zerolog.Logger
	// Registerer, when non-nil, registers the engine's metrics.
	Registerer prometheus.Registerer
	// DecisionCacheSize bounds the decisions Evaluate caches per policy
	// generation (see decisionCache); 0 disables the cache.
	DecisionCacheSize int
}

// Engine evaluates the decision rule of the active bundles. It is safe for
// concurrent use; Evaluate never blocks on Reload.
type Engine struct {
	opts    Options
	log     zerolog.Logger
	metrics *metrics

	state atomic.Pointer[compiled]

	reloadMu  sync.Mutex // one reload at a time
	reloads   atomic.Int64
	statusMu  sync.Mutex // guards lastErr, lastErrAt
	lastErr   string
	lastErrAt time.Time
	hooksMu   sync.Mutex
	hooks     []func()
}

// New loads and compiles the bundles and prepares the queries. An invalid
// bundle is an error carrying file:line locations.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Timeout <= 0 {
		return nil, fmt.Errorf("evaluation timeout %s: want > 0", opts.Timeout)
	}
	for _, q := range []string{opts.Query, opts.MaskRule, opts.DropRule} {
		if !strings.HasPrefix(q, "data.") {
			return nil, fmt.Errorf("rule %q must be a reference starting with data.", q)
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, log: opts.Logger, metrics: m}
	c, err := e.compile(ctx)
	if err != nil {
		return nil, err
	}
	e.state.Store(c)
	return e, nil
}

// Reload builds a complete new state off to the side and swaps it in. On
// failure the active state keeps serving, the error is logged and recorded
// in Status. Reloads are serialized; Evaluate never waits for them.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	c, err := e.compile(ctx)
	if err != nil {
		e.metrics.reloadError.Inc()
		e.statusMu.Lock()
		e.lastErr, e.lastErrAt = err.Error(), time.Now()
		e.statusMu.Unlock()
		e.log.Error().Err(err).Msg("policy reload failed; keeping the active bundles")
		return fmt.Errorf("reload: %w", err)
	}
	e.state.Store(c)
	e.reloads.Add(1)
	e.metrics.reloadSuccess.Inc()
	e.statusMu.Lock()
	e.lastErr, e.lastErrAt = "", time.Time{}
	e.statusMu.Unlock()
	e.log.Info().Interface("bundles", c.revisions).Str("decision_cache", c.cacheState()).Msg("policy reloaded")
	e.hooksMu.Lock()
	hooks := append([]func(){}, e.hooks...)
	e.hooksMu.Unlock()
	for _, h := range hooks {
		h()
	}
	return nil
}

// OnReload registers f to run after each successful swap, on the
// goroutine that called Reload (the gateway rebuilds its API-key index).
func (e *Engine) OnReload(f func()) {
	e.hooksMu.Lock()
	e.hooks = append(e.hooks, f)
	e.hooksMu.Unlock()
}

// Ready reports whether a compiled policy is active.
func (e *Engine) Ready() bool { return e.state.Load() != nil }

// Data returns the bundle data at a dotted path (e.g.
// "portcullis.consumers") of the active state; the empty path is the whole
// tree. The value is shared: callers must not modify it.
func (e *Engine) Data(path string) (any, bool) {
	c := e.state.Load()
	if c == nil {
		return nil, false
	}
	var v any = c.data
	if path == "" {
		return v, true
	}
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// errNotReady is reported by evaluations before any bundle is active.
var errNotReady = errors.New("no policy loaded")
