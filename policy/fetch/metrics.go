package fetch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

// Metrics count the polls of every url bundle.
type Metrics struct {
	polls       *prometheus.CounterVec
	lastRequest *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
}

// NewMetrics registers the metrics idempotently on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		polls: promreg.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_bundle_polls_total",
			Help: "Requests for a url bundle by result: success (downloaded and activated), not_modified (304), refused (downloaded, not activated: the running policy is kept), failure (no answer or an HTTP error).",
		}, []string{"bundle", "result"})),
		lastRequest: promreg.MustRegister(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_bundle_last_request_timestamp_seconds",
			Help: "Unix time of the last request for a url bundle, whatever its result.",
		}, []string{"bundle"})),
		lastSuccess: promreg.MustRegister(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_bundle_last_success_timestamp_seconds",
			Help: "Unix time a url bundle was last downloaded and activated.",
		}, []string{"bundle"})),
	}
}

func (m *Metrics) observe(bundle, result string, at time.Time) {
	m.polls.WithLabelValues(bundle, result).Inc()
	m.lastRequest.WithLabelValues(bundle).Set(float64(at.UnixNano()) / 1e9)
	if result == "success" {
		m.lastSuccess.WithLabelValues(bundle).Set(float64(at.UnixNano()) / 1e9)
	}
}
