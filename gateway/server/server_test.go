package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/route"
)

func TestAPanickingStageIsRecordedAndAnswered500(t *testing.T) {
	srv, _ := jwtPipeline(t, 0, false)
	srv.router = route.NewRouter(srv.cfg.Routes, []pipeline.Handler{
		pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { panic(errors.New("boom")) }),
	})
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
	mfs, err := srv.reg.Gather()
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
			return m.GetCounter().GetValue()
		}
	}
	return 0
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
	srv.comp.close(context.Background()) // flushes the decision log
	b, err := os.ReadFile(srv.cfg.DecisionLog.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"identity":null`) || !strings.Contains(string(b), `"status":413`) {
		t.Fatalf("decision log lacks a 413 event without identity:\n%s", b)
	}
}
