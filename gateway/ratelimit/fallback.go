package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ErrUnavailable is what a Store under on_error "deny" returns when the
// shared store cannot answer.
var ErrUnavailable = errors.New("rate-limit store unavailable")

// Fallback is a shared Store (Redis) with what happens when it cannot
// answer: with deny, ErrUnavailable (503); without, the request is counted
// by the local store alone, as if this replica were the only one. An
// outage is logged once when it starts and once when it ends, and every
// operation that fell back is counted.
type Fallback struct {
	shared Store
	local  *Local
	deny   bool
	log    zerolog.Logger

	down   atomic.Bool
	errors prometheus.Counter
}

// NewFallback returns shared with local behind it (deny false) or
// ErrUnavailable (deny true) when shared fails.
func NewFallback(shared Store, local *Local, deny bool, log zerolog.Logger, reg prometheus.Registerer) (*Fallback, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	label := "local"
	if deny {
		label = "deny"
	}
	return &Fallback{shared: shared, local: local, deny: deny, log: log, errors: m.storeErrors.WithLabelValues(label)}, nil
}

func (f *Fallback) failed(err error) {
	f.errors.Inc()
	if !f.down.Swap(true) {
		ev := f.log.Error().Err(err)
		if f.deny {
			ev.Msg("rate-limit store unreachable: requests that need it get 503 until it answers")
		} else {
			ev.Msg("rate-limit store unreachable: limits are counted by this replica alone until it answers")
		}
	}
}

func (f *Fallback) ok() {
	if f.down.Load() && f.down.Swap(false) {
		f.log.Info().Msg("rate-limit store answers again")
	}
}

// Take implements Store.
func (f *Fallback) Take(ctx context.Context, ns string, key Digest, s Spec) (Result, error) {
	r, err := f.shared.Take(ctx, ns, key, s)
	if err == nil {
		f.ok()
		return r, nil
	}
	f.failed(err)
	if f.deny {
		return Result{}, ErrUnavailable
	}
	return f.local.Take(ctx, ns, key, s)
}

// Fail implements Store.
func (f *Fallback) Fail(ctx context.Context, key Digest, max int, window, blockFor time.Duration) (bool, error) {
	b, err := f.shared.Fail(ctx, key, max, window, blockFor)
	if err == nil {
		f.ok()
		return b, nil
	}
	f.failed(err)
	if f.deny {
		return false, ErrUnavailable
	}
	return f.local.Fail(ctx, key, max, window, blockFor)
}

// Blocked implements Store.
func (f *Fallback) Blocked(ctx context.Context, key Digest) (time.Duration, error) {
	d, err := f.shared.Blocked(ctx, key)
	if err == nil {
		f.ok()
		return d, nil
	}
	f.failed(err)
	if f.deny {
		return 0, ErrUnavailable
	}
	return f.local.Blocked(ctx, key)
}
