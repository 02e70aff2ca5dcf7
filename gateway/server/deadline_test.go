package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/route"
)

// The route's timeout and the client's going away both cancel the
// request's one context (pipeline.WithRequest), but end differently: a
// timeout is a 504 upstream_timeout, a client gone a 499 client_closed.
func TestTheRouteTimeoutIsA504AndAGoneClientA499(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only after the gateway gave up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer up.Close()
	for _, tc := range []struct {
		name          string
		timeout, gone time.Duration
		status        string
		reason        string
	}{
		{"the route's timeout passes", 50 * time.Millisecond, 0, "504", "upstream_timeout"},
		{"the client goes away first", 10 * time.Second, 50 * time.Millisecond, "499", "client_closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := jwtPipeline(t, 0, false)
			tr, err := proxy.NewTransport(time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := proxy.New(&config.Route{Name: "users-api", Upstream: up.URL, Timeout: tc.timeout, ConnectTimeout: time.Second}, tr)
			if err != nil {
				t.Fatal(err)
			}
			if srv.gen.Load().Router, err = route.NewRouter(srv.boot.Routes, []pipeline.Handler{p.Handler()}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.gone > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer time.AfterFunc(tc.gone, cancel).Stop() // as net/http does when the client left
			}
			srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/users", nil).WithContext(ctx))
			if n := counterValue(t, srv, "portcullis_http_requests_total", map[string]string{"route": "users-api", "status": tc.status}); n != 1 {
				t.Errorf("requests{status=%s} = %v, want 1", tc.status, n)
			}
			if n := counterValue(t, srv, "portcullis_http_request_outcomes_total", map[string]string{"route": "users-api", "reason": tc.reason}); n != 1 {
				t.Errorf("outcomes{reason=%s} = %v, want 1", tc.reason, n)
			}
		})
	}
}
