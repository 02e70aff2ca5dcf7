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
)

// Values of the reason label of portcullis_decisionlog_drops_total.
const (
	dropQueueFull = "queue_full" // a sink's in-memory queue was full
	dropSpoolFull = "spool_full" // drop_oldest removed a spooled batch
	dropShutdown  = "shutdown"   // Close could neither deliver nor spool
	dropRejected  = "rejected"   // the collector refused the batch itself (400, 413, 422)
	dropWrite     = "write_error"
)

// metrics are the decision log's collectors, registered once per registry
// and shared by the Logger (events, mask errors) and its sinks (every
// other one, labelled by sink). A Logger or sink created on reload gets
// the collectors of its predecessor, so gauges only move by Add.
type metrics struct {
	events      *prometheus.CounterVec // result
	maskErrors  prometheus.Counter
	bytes       *prometheus.CounterVec // sink
	delivered   *prometheus.CounterVec // sink
	batches     *prometheus.CounterVec // sink, result: sent|failed
	retries     *prometheus.CounterVec // sink
	drops       *prometheus.CounterVec // sink, reason
	queue       *prometheus.GaugeVec   // sink
	spool       *prometheus.GaugeVec   // sink
	spoolErrors *prometheus.CounterVec // sink

	logged, sampled, ruled, closed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	r := &registrar{reg: reg}
	m := &metrics{
		events: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_events_total",
			Help: "Decision events by result: logged (handed to every sink), or dropped by sampling, by the drop rule, or after Close.",
		}, []string{"result"})),
		maskErrors: register(r, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_mask_errors_total",
			Help: "Events whose mask rule failed; they were logged with input and result erased.",
		})),
		bytes: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_bytes_total",
			Help: "Event bytes written (stdout, file, syslog) or delivered uncompressed (http), by sink.",
		}, []string{"sink"})),
		delivered: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_delivered_total",
			Help: "Events written (stdout, file, syslog) or acknowledged by the collector with a 2xx (http), by sink.",
		}, []string{"sink"})),
		batches: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_batches_total",
			Help: "Batches POSTed, by sink and result: sent (2xx) or failed (error or non-2xx).",
		}, []string{"sink", "result"})),
		retries: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_retries_total",
			Help: "Batch retries after a failure, by sink.",
		}, []string{"sink"})),
		drops: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_drops_total",
			Help: "Events a sink lost, by sink and reason.",
		}, []string{"sink", "reason"})),
		queue: register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_decisionlog_queue_events",
			Help: "Events in a sink's in-memory queue, by sink.",
		}, []string{"sink"})),
		spool: register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_decisionlog_spool_bytes",
			Help: "Bytes of batches spooled on disk, by sink.",
		}, []string{"sink"})),
		spoolErrors: register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_decisionlog_spool_errors_total",
			Help: "Spool writes that failed (directory unwritable, disk full), by sink; the batch stayed in memory, or was counted in drops at shutdown.",
		}, []string{"sink"})),
	}
	m.logged = m.events.WithLabelValues(resultLogged)
	m.sampled = m.events.WithLabelValues(resultDroppedSampled)
	m.ruled = m.events.WithLabelValues(resultDroppedRule)
	m.closed = m.events.WithLabelValues(resultDroppedClosed)
	return m, r.err
}

// sinkMetrics are the series every sink has.
type sinkMetrics struct {
	bytes, delivered prometheus.Counter
	queue            prometheus.Gauge
	full, writeErrs  prometheus.Counter // drops: queue_full, write_error
}

// openSinkMetrics registers the collectors in env and returns them with
// the series of the sink called name.
func openSinkMetrics(env Env, name string) (*metrics, sinkMetrics, error) {
	m, err := newMetrics(env.Registerer)
	if err != nil {
		return nil, sinkMetrics{}, err
	}
	return m, sinkMetrics{
		bytes:     m.bytes.WithLabelValues(name),
		delivered: m.delivered.WithLabelValues(name),
		queue:     m.queue.WithLabelValues(name),
		full:      m.drops.WithLabelValues(name, dropQueueFull),
		writeErrs: m.drops.WithLabelValues(name, dropWrite),
	}, nil
}

// registrar registers collectors and keeps the first error.
type registrar struct {
	reg prometheus.Registerer
	err error
}

// register registers c, or returns the equal collector already registered
// (a previous Logger's or sink's), so that reloads keep counting.
func register[C prometheus.Collector](r *registrar, c C) C {
	c, err := promreg.Register(r.reg, c)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("register decision log metrics: %w", err)
	}
	return c
}
