package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/route"
)

func TestAPanickingStageIsRecordedAndAnswered500(t *testing.T) {
	srv, _ := jwtPipeline(t, 0, false)
	var err error
	srv.gen.Load().Router, err = route.NewRouter(srv.boot.Routes, []pipeline.Handler{
		pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { panic(errors.New("boom")) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/users", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"reason":"internal_error"`) {
		t.Fatalf("got %d %s, want a 500 problem", w.Code, w.Body)
	}
	if n := counterValue(t, srv, "portcullis_http_requests_total", map[string]string{"route": "users-api", "status": "500"}); n != 1 {
		t.Fatalf("requests{status=500} = %v, want 1", n)
	}
}

// counterValue reads one counter from the server's registry, as /metrics shows it.
func counterValue(t *testing.T, srv *Server, name string, labels map[string]string) float64 {
	t.Helper()
	return findMetric(t, srv.reg, name, labels).GetCounter().GetValue()
}

// findMetric returns the first series of name whose labels include labels
// (nil if there is none).
func findMetric(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			return m
		}
	}
	return nil
}

func TestLatencyIsSplitBetweenGatewayAndUpstream(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name                     string
		up                       proxy.Exchange
		end                      time.Time
		total, gateway, upstream time.Duration
		upstreamCount            uint64
	}{
		{"answered by the gateway", proxy.Exchange{}, start.Add(ms(3)), ms(3), ms(3), 0, 0},
		{"forwarded: before forwarding and after relaying", proxy.Exchange{Forwarded: start.Add(ms(2)), Latency: ms(40), Relayed: start.Add(ms(44))}, start.Add(ms(45)), ms(45), ms(3), ms(40), 1},
		{"forwarded, the upstream failed", proxy.Exchange{Forwarded: start.Add(ms(1)), Latency: ms(100), Relayed: start.Add(ms(101))}, start.Add(ms(103)), ms(103), ms(3), ms(100), 1},
		{"forwarded, the exchange panicked", proxy.Exchange{Forwarded: start.Add(ms(1))}, start.Add(ms(5)), ms(5), ms(1), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := newHTTPMetrics(reg, "test", []string{"r1"}, func() error { return nil })
			m.observe("r1", start, &tc.up, tc.end)
			check := func(name string, count uint64, sum time.Duration) {
				t.Helper()
				h := findMetric(t, reg, name, map[string]string{"route": "r1"}).GetHistogram()
				if h.GetSampleCount() != count || (count > 0 && math.Abs(h.GetSampleSum()-sum.Seconds()) > 1e-9) {
					t.Errorf("%s: %d samples summing to %vs, want %d summing to %v", name, h.GetSampleCount(), h.GetSampleSum(), count, sum)
				}
			}
			check("portcullis_http_request_duration_seconds", 1, tc.total)
			check("portcullis_http_gateway_duration_seconds", 1, tc.gateway)
			check("portcullis_http_upstream_duration_seconds", tc.upstreamCount, tc.upstream)
		})
	}
	t.Run("a request no route matched is recorded too", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m := newHTTPMetrics(reg, "test", []string{"r1"}, func() error { return nil })
		m.observe("", start, &proxy.Exchange{}, start.Add(ms(1)))
		if h := findMetric(t, reg, "portcullis_http_gateway_duration_seconds", map[string]string{"route": ""}); h.GetHistogram().GetSampleCount() != 1 {
			t.Fatalf("gateway duration of route \"\": %v, want one sample", h)
		}
	})
}

func TestServedRequestsFeedTheLatencySplit(t *testing.T) {
	srv, toks := jwtPipeline(t, 1, false)
	for _, auth := range []string{"Bearer " + toks[0], ""} { // forwarded, then 401
		req := httptest.NewRequest("GET", "/api/v1/users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	route := map[string]string{"route": "users-api"}
	if n := findMetric(t, srv.reg, "portcullis_http_gateway_duration_seconds", route).GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("gateway duration samples = %d, want 2 (both requests)", n)
	}
	if n := findMetric(t, srv.reg, "portcullis_http_upstream_duration_seconds", route).GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("upstream duration samples = %d, want 1 (only the forwarded request)", n)
	}
}

func TestARequestRejectedBeforeAuthenticationIsLoggedWithoutIdentity(t *testing.T) {
	srv, toks := jwtPipeline(t, 1, true)
	req := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(strings.Repeat("x", 2<<20)))
	req.Header.Set("Authorization", "Bearer "+toks[0])
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d, want 413", w.Code)
	}
	_ = srv.gen.Load().Close(context.Background()) // flushes the decision log
	b, err := os.ReadFile(srv.boot.DecisionLog.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"identity":null`) || !strings.Contains(string(b), `"status":413`) {
		t.Fatalf("decision log lacks a 413 event without identity:\n%s", b)
	}
}

func TestCachedDecisionsAreMarkedInTheDecisionLog(t *testing.T) {
	srv, toks := jwtPipeline(t, 2, true)
	for _, tok := range toks { // two users, one role: one evaluation
		req := httptest.NewRequest("GET", "/api/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("got %d %s, want 200", w.Code, w.Body)
		}
	}
	_ = srv.gen.Load().Close(context.Background()) // flushes the decision log
	b, err := os.ReadFile(srv.boot.DecisionLog.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"cached":false`) || !strings.Contains(lines[1], `"cached":true`) {
		t.Fatalf("want an evaluated then a cached decision:\n%s", b)
	}
}
