package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

// Evaluation results, the values of the result label of
// portcullis_policy_evaluations_total.
const (
	resultAllow     = "allow"
	resultDeny      = "deny"
	resultUndefined = "undefined"
	resultInvalid   = "invalid_result"
	resultError     = "error"
	resultTimeout   = "timeout"
)

type metrics struct {
	evals       map[string]prometheus.Counter
	evalSeconds prometheus.Histogram
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	evals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_policy_evaluations_total",
		Help: "Policy decisions by result (allow, deny, undefined, invalid_result, error, timeout), those answered from the decision cache included.",
	}, []string{"result"})
	seconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "portcullis_policy_evaluation_seconds",
		Help:    "Time spent evaluating the decision rule.",
		Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 5e-3, 0.025, 0.1},
	})
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_policy_decision_cache_total",
		Help: "Decision cache lookups by result (hit, miss); none while the active policy's decisions are not cached.",
	}, []string{"result"})
	var err error
	if cache, err = promreg.Register(reg, cache); err != nil {
		return nil, err
	}
	if evals, err = promreg.Register(reg, evals); err != nil {
		return nil, err
	}
	if seconds, err = promreg.Register(reg, seconds); err != nil {
		return nil, err
	}
	m := &metrics{
		evals:       make(map[string]prometheus.Counter, 6),
		evalSeconds: seconds,
		cacheHits:   cache.WithLabelValues("hit"),
		cacheMisses: cache.WithLabelValues("miss"),
	}
	for _, r := range []string{resultAllow, resultDeny, resultUndefined, resultInvalid, resultError, resultTimeout} {
		m.evals[r] = evals.WithLabelValues(r)
	}
	return m, nil
}
