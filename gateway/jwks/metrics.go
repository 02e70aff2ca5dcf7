package jwks

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

type metrics struct {
	fetches  *prometheus.CounterVec
	failures *prometheus.CounterVec
	age      *prometheus.GaugeVec
	rejected *prometheus.CounterVec
}

// newMetrics builds the collectors and registers them with reg (if not
// nil). Every Set shares them through the registry: a Set built for a
// reload finds the collectors of the one it replaces and reuses them.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_jwks_fetches_total",
			Help: "JWKS fetch attempts, by issuer.",
		}, []string{"issuer"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_jwks_fetch_failures_total",
			Help: "Failed JWKS fetches, by issuer.",
		}, []string{"issuer"}),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_jwks_key_set_age_seconds",
			Help: "Age of the key set in use, by issuer, updated on every fetch attempt.",
		}, []string{"issuer"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_jwks_keys_rejected_total",
			Help: "Keys left out of a key set, by issuer and reason, counted once per changed document or key-file load.",
		}, []string{"issuer", "reason"}),
	}
	var err error
	if m.fetches, err = promreg.Register(reg, m.fetches); err != nil {
		return nil, err
	}
	if m.failures, err = promreg.Register(reg, m.failures); err != nil {
		return nil, err
	}
	if m.age, err = promreg.Register(reg, m.age); err != nil {
		return nil, err
	}
	if m.rejected, err = promreg.Register(reg, m.rejected); err != nil {
		return nil, err
	}
	return m, nil
}

// observeAge sets the age gauge of issuer to now-ks.fetchedAt (0 when
// nothing was ever fetched).
func (m *metrics) observeAge(issuer string, ks *keySet, now time.Time) {
	if ks == nil {
		return
	}
	m.age.WithLabelValues(issuer).Set(now.Sub(ks.fetchedAt).Seconds())
}
