// Package engine evaluates Rego decisions against the bundles it compiled.
// An engine never changes its policy: the gateway builds a new engine with
// each generation (see gateway/generation).
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
	// Logger receives evaluation problems. The zero value logs nothing.
	Logger zerolog.Logger
	// Registerer, when non-nil, registers the engine's metrics.
	Registerer prometheus.Registerer
	// DecisionCacheSize bounds the decisions Evaluate caches per policy
	// generation (see decisionCache); 0 disables the cache.
	DecisionCacheSize int
	// Hold are dotted data paths whose data stays out of the store and out
	// of reach of the policies (see Held); a module reading into one is
	// refused.
	Hold []string
}

// Engine evaluates the decision rule of its bundles. It is safe for
// concurrent use.
type Engine struct {
	opts    Options
	log     zerolog.Logger
	metrics *metrics

	state atomic.Pointer[compiled]
	// heldMu guards the hand-over of the active state's held files.
	heldMu sync.Mutex
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

// Data returns the bundle data at a dotted path (e.g.
// "portcullis.consumers") of the active state; the empty path is the whole
// tree. The value is converted from the store's on each call (the store
// holds the only copy), so callers read the path once per generation.
func (e *Engine) Data(path string) (any, bool) {
	c := e.state.Load()
	if c == nil {
		return nil, false
	}
	if path == "" {
		return lookup(c.data, nil)
	}
	return lookup(c.data, strings.Split(path, "."))
}

// errNotReady is reported by evaluations before any bundle is active.
var errNotReady = errors.New("no policy loaded")
