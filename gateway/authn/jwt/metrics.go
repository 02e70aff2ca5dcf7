package jwt

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

type metrics struct {
	verifications *prometheus.CounterVec
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	// okCount is verifications{result="ok"}, looked up at the first
	// success (not before: the series appears with it) and then kept, as
	// every request that passes counts there.
	okCount atomic.Pointer[prometheus.Counter]
}

// ok counts one successful authentication.
func (m *metrics) ok() {
	c := m.okCount.Load()
	if c == nil {
		v := m.verifications.WithLabelValues("ok")
		c = &v
		m.okCount.Store(c)
	}
	(*c).Inc()
}

// newMetrics builds the collectors and registers them with reg (if not
// nil), reusing those of a previous Authenticator on the same registry so
// that a reload does not fail on registration.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_jwt_verifications_total",
			Help: `JWT authentications by result: "ok" or the reject reason.`,
		}, []string{"result"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_jwt_cache_hits_total",
			Help: "Verified-token cache hits.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_jwt_cache_misses_total",
			Help: "Verified-token cache misses.",
		}),
	}
	var err error
	if m.verifications, err = promreg.Register(reg, m.verifications); err != nil {
		return nil, err
	}
	if m.cacheHits, err = promreg.Register(reg, m.cacheHits); err != nil {
		return nil, err
	}
	if m.cacheMisses, err = promreg.Register(reg, m.cacheMisses); err != nil {
		return nil, err
	}
	return m, nil
}
