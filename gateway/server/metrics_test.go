package server

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/policy"
)

func TestCountLabelsConsumersOnlyFromBundleData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   *policy.Identity
		want int // series of portcullis_consumer_requests_total
	}{
		{"an API-key consumer is a label", &policy.Identity{Method: policy.MethodAPIKey, Consumer: "partner"}, 1},
		{"a client-certificate consumer is a label", &policy.Identity{Method: policy.MethodClientCert, Consumer: "batch"}, 1},
		{"an introspection client id is not", &policy.Identity{Method: policy.MethodIntrospection, Consumer: "any-client", Subject: "alice"}, 0},
		{"a JWT subject is not", &policy.Identity{Method: policy.MethodJWT, Subject: "alice"}, 0},
		{"an anonymous request is not", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			m := newHTTPMetrics(reg, "test", []string{"r1"}, func() error { return nil })
			m.count("r1", "GET", pipeline.Outcome{Status: 200, Reason: problem.ReasonAllow}, tc.id)
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			series := 0
			for _, mf := range mfs {
				if mf.GetName() == "portcullis_consumer_requests_total" {
					series = len(mf.GetMetric())
				}
			}
			if series != tc.want {
				t.Errorf("%d consumer series, want %d", series, tc.want)
			}
			if got := findMetric(t, reg, "portcullis_http_request_outcomes_total", map[string]string{"route": "r1", "reason": "allow"}).GetCounter().GetValue(); got != 1 {
				t.Errorf("outcome allow counted %v times, want 1", got)
			}
		})
	}
}

func TestReadinessGauge(t *testing.T) {
	t.Parallel()
	var err error
	reg := prometheus.NewRegistry()
	newHTTPMetrics(reg, "test", nil, func() error { return err })
	for _, want := range []float64{1, 0} {
		if got := findMetric(t, reg, "portcullis_ready", nil).GetGauge().GetValue(); got != want {
			t.Errorf("portcullis_ready = %v with ready() = %v, want %v", got, err, want)
		}
		err = errors.New("draining")
	}
}

// BenchmarkCount is the per-request cost of the request counters.
func BenchmarkCount(b *testing.B) {
	m := newHTTPMetrics(prometheus.NewRegistry(), "test", []string{"r1"}, func() error { return nil })
	o := pipeline.Outcome{Status: http.StatusOK, Reason: problem.ReasonAllow}
	for _, bc := range []struct {
		name string
		id   *policy.Identity
	}{
		{"anonymous", nil},
		{"api key consumer", &policy.Identity{Method: policy.MethodAPIKey, Consumer: "partner"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.count("r1", "GET", o, bc.id)
			}
		})
	}
}

// TestRouteSeriesAtFirstRequest: a configured route exports no series until
// it is used, so thousands of idle routes cost no scrape; its first request
// makes them, and they count from there.
func TestRouteSeriesAtFirstRequest(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	routes := make([]string, 1000)
	for i := range routes {
		routes[i] = "r" + strconv.Itoa(i)
	}
	m := newHTTPMetrics(reg, "test", routes, func() error { return nil })
	perRoute := func() int {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "route" {
						n++
					}
				}
			}
		}
		return n
	}
	if n := perRoute(); n != 0 {
		t.Fatalf("%d route series before any request, want 0", n)
	}
	now := time.Now()
	m.observe("r7", now, &proxy.Exchange{}, now.Add(time.Millisecond))
	m.count("r7", "GET", pipeline.Outcome{Status: 200, Reason: problem.ReasonAllow}, nil)
	// duration, gateway, allow outcome, requests: the upstream histogram
	// waits for a request that reached the upstream.
	if n := perRoute(); n != 5 {
		t.Errorf("%d route series after one request to one route, want 5", n)
	}
	if got := findMetric(t, reg, "portcullis_http_request_duration_seconds", map[string]string{"route": "r7"}).GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("r7's duration histogram holds %d samples, want 1", got)
	}
}

// TestRequestCountersAreTheLabelledSeries: the per-route counters count
// into the very series WithLabelValues names, for the first few method and
// status pairs of a route and the rarer ones beyond them, from concurrent
// requests, and an unconfigured route's too.
func TestRequestCountersAreTheLabelledSeries(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := newHTTPMetrics(reg, "test", []string{"r1"}, func() error { return nil })
	type key struct{ route, method, status string }
	want := map[key]float64{}
	var requests []key
	for i, st := range []int{200, 201, 204, 301, 304, 400, 401, 403, 404, 500, 502, 504, 99, 600} {
		for j, method := range []string{"GET", "POST", "BREW"} {
			for _, route := range []string{"r1", "unrouted"} {
				k := key{route, methodLabel(method), statusLabel(st)}
				for range 1 + (i+j)%3 {
					requests = append(requests, key{route, method, strconv.Itoa(st)})
					want[k]++
				}
			}
		}
	}
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := w; i < len(requests); i += 4 {
				st, _ := strconv.Atoi(requests[i].status)
				m.count(requests[i].route, requests[i].method, pipeline.Outcome{Status: st, Reason: problem.ReasonAllow}, nil)
			}
		}()
	}
	for range 4 {
		<-done
	}
	series := 0
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "portcullis_http_requests_total" {
			series = len(mf.GetMetric())
		}
	}
	if series != len(want) {
		t.Errorf("%d request series, want %d", series, len(want))
	}
	for k, n := range want {
		got := findMetric(t, reg, "portcullis_http_requests_total", map[string]string{"route": k.route, "method": k.method, "status": k.status}).GetCounter().GetValue()
		if got != n {
			t.Errorf("requests %+v = %v, want %v", k, got, n)
		}
	}
}

// The method label is the method for the nine of RFC 9110 and PATCH, as
// sent (case matters: "get" is another method), and OTHER for the rest.
func TestMethodLabelKeepsTheKnownMethodsOnly(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		if got := methodLabel(m); got != m {
			t.Errorf("methodLabel(%q) = %q, want it kept", m, got)
		}
	}
	for _, m := range []string{"", "get", "Get", "GET ", " GET", "GETS", "BREW", "PROPFIND", "OTHER", "TRACE\x00"} {
		if got := methodLabel(m); got != "OTHER" {
			t.Errorf("methodLabel(%q) = %q, want OTHER", m, got)
		}
	}
}

func BenchmarkMethodLabel(b *testing.B) {
	ms := []string{"GET", "POST", "BREW", "DELETE"}
	for i := 0; b.Loop(); i++ {
		_ = methodLabel(ms[i&3])
	}
}
