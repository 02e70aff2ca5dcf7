package decisionlog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

// Values of the result label of portcullis_decisionlog_events_total.
const (
	resultLogged         = "logged"
	resultDroppedSampled = "dropped_sampled"
	resultDroppedRule    = "dropped_rule"
	resultDroppedClosed  = "dropped_closed"
	resultDroppedError   = "dropped_error"
)

// Values of the reason label of portcullis_decisionlog_drops_total.
const (
	dropQueueFull = "queue_full" // a sink's in-memory queue was full
	dropSpoolFull = "spool_full" // drop_oldest removed a spooled batch
	dropShutdown  = "shutdown"   // Close could neither deliver nor spool
	dropRejected  = "rejected"   // the collector refused the batch itself (400, 413, 422)
	dropWrite     = "write_error"
)

// metrics are one Logger's collectors. A Logger created on reload reuses
// the collectors of its predecessor, so gauges only move by Add.
type metrics struct {
	events     *prometheus.CounterVec // result
	maskErrors prometheus.Counter
	bytes      *prometheus.CounterVec // sink
	batches    *prometheus.CounterVec // result: sent|failed
	retries    prometheus.Counter
	drops      *prometheus.CounterVec // sink, reason
	queue      prometheus.Gauge
	spool      prometheus.Gauge

	logged, sampled, ruled, closed, failed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	r := &registrar{reg: reg}
	m := &metrics{
		events: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_events_total",
			Help: "Decision events by result: logged, or dropped by sampling, by the drop rule, after Close, or on an encoding error.",
		}, []string{"result"})),
		maskErrors: register(r, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_mask_errors_total",
			Help: "Events whose mask rule failed; they were logged with input and result erased.",
		})),
		bytes: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_bytes_total",
			Help: "Event bytes written (stdout, file) or delivered uncompressed (http), by sink.",
		}, []string{"sink"})),
		batches: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_batches_total",
			Help: "HTTP batches by result: sent (2xx) or failed (error or non-2xx).",
		}, []string{"result"})),
		retries: register(r, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_retries_total",
			Help: "HTTP batch retries after a failure.",
		})),
		drops: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_drops_total",
			Help: "Events a sink lost, by sink and reason.",
		}, []string{"sink", "reason"})),
		queue: register(r, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_decisionlog_queue_events",
			Help: "Events in the HTTP sink's in-memory queue.",
		})),
		spool: register(r, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_decisionlog_spool_bytes",
			Help: "Bytes of batches spooled on disk.",
		})),
	}
	m.logged = m.events.WithLabelValues(resultLogged)
	m.sampled = m.events.WithLabelValues(resultDroppedSampled)
	m.ruled = m.events.WithLabelValues(resultDroppedRule)
	m.closed = m.events.WithLabelValues(resultDroppedClosed)
	m.failed = m.events.WithLabelValues(resultDroppedError)
	return m, r.err
}

// registrar registers collectors and keeps the first error.
type registrar struct {
	reg prometheus.Registerer
	err error
}

// register registers c, or returns the equal collector already registered
// (a previous Logger's), so that reloads keep counting.
func register[C prometheus.Collector](r *registrar, c C) C {
	c, err := promreg.Register(r.reg, c)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("register decision log metrics: %w", err)
	}
	return c
}
