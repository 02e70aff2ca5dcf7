package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves /healthz (alive), /readyz (200 unless draining or
// JWKS keys are not usable yet), /metrics (Prometheus) and /v1/status
// (generation, bundles, revisions, last reload error, what needs a restart)
// and, with identity_assertion, /.well-known/jwks.json (the public keys
// backends verify assertions with; 404 without) and, with listen.pprof,
// Go's profiles under /debug/pprof/ (404 without).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"version": s.version,
			"time":    time.Now().UTC().Format(time.RFC3339Nano),
			"status":  s.status(),
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		jwks := s.gen.Load().JWKS()
		if jwks == nil {
			http.NotFound(w, nil)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		// Short, so a backend sees a new key well within rotation_overlap.
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write(jwks)
	})
	profiles := http.NewServeMux()
	profiles.HandleFunc("/debug/pprof/", pprof.Index) // the named profiles: heap, goroutine, allocs...
	profiles.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	profiles.HandleFunc("/debug/pprof/profile", pprof.Profile)
	profiles.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	profiles.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		if !s.gen.Load().Config.Listen.Pprof {
			http.NotFound(w, r)
			return
		}
		profiles.ServeHTTP(w, r)
	})
	return mux
}

// ready fails while draining, and until the running generation's JWKS
// keys are usable. A generation that failed to build never ran, so it
// cannot make a ready gateway unready.
func (s *Server) ready() error {
	if s.draining.Load() {
		return errors.New("draining")
	}
	return s.gen.Load().Ready()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
