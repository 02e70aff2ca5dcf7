package server

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/policy"
)

// httpMetrics are the request metrics of the proxy listener.
type httpMetrics struct {
	requests *prometheus.CounterVec
	// outcomes counts requests by route and the reason code that ended
	// them, the dashboard's "why" beside the status (issue 18).
	outcomes *prometheus.CounterVec
	// consumers counts requests by the consumer of an API key or client
	// certificate: the consumers are bundle data, so the label set is
	// bounded. JWT subjects and introspection client ids are not
	// configured here and never become labels.
	consumers *prometheus.CounterVec
	// duration is the whole request; gateway all of it but the exchange
	// with the upstream; upstream the part from forwarding to the
	// upstream's response headers: Kong's and APISIX's split of request
	// latency.
	duration, gateway, upstream *prometheus.HistogramVec
	// routes holds each configured route's observers, so the hot path does
	// no label lookup; a route missing from it (an unmatched request) looks
	// them up. They are made at a route's first request, not up front:
	// three histograms are about 50 series, and a gateway of 10 000 routes
	// of which a few hundred see traffic would otherwise export half a
	// million series (41 MB a scrape) for nothing.
	routes map[string]*lazyObservers
}

// lazyObservers makes a route's observers once, at its first request.
type lazyObservers struct {
	once sync.Once
	o    *routeObservers
}

type routeObservers struct {
	duration, gateway, upstream prometheus.Observer
	allowed                     prometheus.Counter // outcomes of reason allow, the common case
	// requests are the route's request counters seen so far, by method
	// and status label, copied on write: the few a route usually answers
	// are found without hashing three label values and taking the vector's
	// lock, whose cache line every core's request would otherwise share.
	requests atomic.Pointer[[]requestCounter]
}

type requestCounter struct {
	method, status string
	c              prometheus.Counter
}

// maxRequestCounters bounds a route's requests; the rare others are looked
// up each time.
const maxRequestCounters = 8

// requestCounter returns the counter of the route's requests with method
// and status (labels), remembering it among the first maxRequestCounters.
func (o *routeObservers) requestCounter(m *httpMetrics, route, method, status string) prometheus.Counter {
	for {
		old := o.requests.Load()
		var seen []requestCounter
		if old != nil {
			seen = *old
		}
		for i := range seen {
			if seen[i].method == method && seen[i].status == status {
				return seen[i].c
			}
		}
		c := m.requests.WithLabelValues(route, method, status)
		if len(seen) >= maxRequestCounters {
			return c
		}
		next := append(append(make([]requestCounter, 0, len(seen)+1), seen...), requestCounter{method, status, c})
		if o.requests.CompareAndSwap(old, &next) {
			return c
		}
	}
}

// latencyBuckets resolve the time the gateway adds down to 100 µs.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newHTTPMetrics(reg prometheus.Registerer, version string, routes []string, ready func() error) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_http_requests_total",
			Help: "Requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_http_request_outcomes_total",
			Help: "Requests by route and the reason code of their outcome (allow, or the rejection's reason).",
		}, []string{"route", "reason"}),
		consumers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_consumer_requests_total",
			Help: "Requests authenticated by an API key or client certificate, by consumer (from bundle data).",
		}, []string{"consumer"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_http_request_duration_seconds",
			Help:    "Time from request to response, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		gateway: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_http_gateway_duration_seconds",
			Help:    "Time the gateway spent on a request once its head was read, apart from the exchange with the upstream, by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_http_upstream_duration_seconds",
			Help:    "Time from forwarding a request to the upstream's response headers (or the exchange's failure), by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		routes: make(map[string]*lazyObservers, len(routes)),
	}
	for _, r := range routes {
		m.routes[r] = new(lazyObservers)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "portcullis_build_info",
		Help:        "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	// Read at scrape time: what /readyz would answer, so an alert sees a
	// gateway that stopped being ready while its process is still up.
	readiness := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portcullis_ready",
		Help: "1 when /readyz answers 200 (not draining, JWKS keys usable), else 0.",
	}, func() float64 {
		if ready() != nil {
			return 0
		}
		return 1
	})
	reg.MustRegister(m.requests, m.outcomes, m.consumers, m.duration, m.gateway, m.upstream, build, readiness,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observers returns route's observers: a configured route's, made at its
// first request, or an unconfigured name's, looked up each time.
func (m *httpMetrics) observers(route string) *routeObservers {
	l := m.routes[route]
	if l == nil {
		return m.newObservers(route)
	}
	return l.get(m, route)
}

func (l *lazyObservers) get(m *httpMetrics, route string) *routeObservers {
	l.once.Do(func() { l.o = m.newObservers(route) })
	return l.o
}

func (m *httpMetrics) newObservers(route string) *routeObservers {
	return &routeObservers{
		duration: m.duration.WithLabelValues(route),
		gateway:  m.gateway.WithLabelValues(route),
		upstream: m.upstream.WithLabelValues(route),
		allowed:  m.outcomes.WithLabelValues(route, string(problem.ReasonAllow)),
	}
}

// count records the request's outcome and, for a configured consumer,
// its volume.
func (m *httpMetrics) count(route, method string, o pipeline.Outcome, id *policy.Identity) {
	method, status := methodLabel(method), statusLabel(o.Status)
	if l := m.routes[route]; l != nil {
		ro := l.get(m, route)
		ro.requestCounter(m, route, method, status).Inc()
		if o.Reason == problem.ReasonAllow {
			ro.allowed.Inc()
		} else {
			m.outcomes.WithLabelValues(route, string(o.Reason)).Inc()
		}
	} else {
		m.requests.WithLabelValues(route, method, status).Inc()
		m.outcomes.WithLabelValues(route, string(o.Reason)).Inc()
	}
	if id != nil && id.Consumer != "" && (id.Method == policy.MethodAPIKey || id.Method == policy.MethodClientCert) {
		m.consumers.WithLabelValues(id.Consumer).Inc()
	}
}

// observe records the latencies of a request whose handling ended at end.
// The gateway's own time is all of it but the exchange with the upstream
// (from Forwarded to Relayed, the response body's transfer included).
func (m *httpMetrics) observe(route string, start time.Time, up *proxy.Exchange, end time.Time) {
	o := m.observers(route)
	o.duration.Observe(end.Sub(start).Seconds())
	if up.Forwarded.IsZero() {
		o.gateway.Observe(end.Sub(start).Seconds())
		return
	}
	relayed := up.Relayed
	if relayed.IsZero() { // the exchange panicked
		relayed = end
	}
	o.gateway.Observe((up.Forwarded.Sub(start) + end.Sub(relayed)).Seconds())
	o.upstream.Observe(up.Latency.Seconds())
}

// methodLabel bounds the method label: clients choose methods freely. A
// switch, not a map: no hash of the method per request.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "OTHER"
}

// statusText caches the label strings of the statuses 100-599.
var statusText = func() (t [600]string) {
	for s := 100; s < 600; s++ {
		t[s] = strconv.Itoa(s)
	}
	return t
}()

func statusLabel(s int) string {
	if s >= 100 && s < len(statusText) {
		return statusText[s]
	}
	return "other"
}
