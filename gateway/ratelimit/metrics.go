package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

// metrics are by route and limit name, never by key.
type metrics struct {
	limited     *prometheus.CounterVec // route, limit
	throttled   *prometheus.CounterVec // route
	blocks      prometheus.Counter
	storeErrors *prometheus.CounterVec // on_error
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_rate_limited_total",
			Help: "Requests refused with 429 rate_limited, by route and limit (a class's limit is class/name).",
		}, []string{"route", "limit"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_auth_throttled_total",
			Help: "Requests refused with 429 auth_throttled (their address failed authentication too often), by route.",
		}, []string{"route"}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_auth_failure_blocks_total",
			Help: "Client addresses blocked for rate_limit.auth_failures.block_for after max_failures failed authentications.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_rate_limit_store_errors_total",
			Help: `Rate-limit operations Redis could not answer, by what the request got: "local" counters or "deny" (503).`,
		}, []string{"on_error"}),
	}
	var err error
	if m.limited, err = promreg.Register(reg, m.limited); err != nil {
		return nil, err
	}
	if m.throttled, err = promreg.Register(reg, m.throttled); err != nil {
		return nil, err
	}
	if m.blocks, err = promreg.Register(reg, m.blocks); err != nil {
		return nil, err
	}
	if m.storeErrors, err = promreg.Register(reg, m.storeErrors); err != nil {
		return nil, err
	}
	return m, nil
}
