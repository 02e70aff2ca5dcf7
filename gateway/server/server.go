// Package server assembles the gateway from its configuration and serves it.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/listener"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/route"
)

// Options are what New needs besides the configuration.
type Options struct {
	Logger zerolog.Logger
	// Version is reported in metrics, /v1/status and decision-log labels.
	Version string
	// Registry collects the metrics served on /metrics. Nil: a new one.
	Registry *prometheus.Registry
}

// Server is the gateway: the proxy handler, the admin handler and the
// components behind them. Build it with New, run it with Run.
type Server struct {
	cfg     *config.Config
	log     zerolog.Logger
	version string
	reg     *prometheus.Registry
	metrics *httpMetrics
	router  *route.Router[pipeline.Handler]
	comp    *components

	// inputExclude are the header names, in any spelling, never copied into the policy input.
	inputExclude header.Set
	// headers makes the request's header set mean one thing before routing.
	headers *header.Cleaner
	// logHeaders are the request headers copied into decision-log events.
	logHeaders []string
	// credQuery are, per route, the query parameters that may carry a
	// credential; they never enter the policy input.
	credQuery map[*config.Route][]string
	ridPrefix string
	ridSeq    atomic.Uint64

	// secretQuery matches the secret query parameters of every route.
	secretQuery *authn.SecretQuery
}

// New builds every part of the gateway from cfg: authenticators, policy
// engine, validators, decision log, route pipelines. Nothing is parsed or
// compiled per request afterwards.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	uuid.EnableRandPool() // decision ids without a crypto/rand call each
	var pfx [6]byte
	_, _ = rand.Read(pfx[:])
	s := &Server{
		cfg:       cfg,
		log:       opts.Logger,
		version:   opts.Version,
		reg:       reg,
		metrics:   newHTTPMetrics(reg, opts.Version, routeNames(cfg)),
		ridPrefix: hex.EncodeToString(pfx[:]) + "-",
	}
	comp, err := newComponents(ctx, cfg, s.log, reg, opts.Version)
	if err != nil {
		return nil, err
	}
	s.comp = comp
	s.inputExclude = comp.inputExclude()
	if s.headers, err = header.New(cfg, reg); err != nil {
		comp.close(ctx)
		return nil, err
	}
	s.secretQuery = authn.NewSecretQuery(cfg.Request.SecretQueryParams)
	s.credQuery = make(map[*config.Route][]string, len(cfg.Routes))
	for i := range cfg.Routes {
		s.credQuery[&cfg.Routes[i]] = authn.CredentialQuery(cfg, &cfg.Routes[i])
	}
	for _, h := range cfg.DecisionLog.Headers {
		if !s.inputExclude.Has(h) { // credentials never reach the log
			s.logHeaders = append(s.logHeaders, h)
		}
	}
	handlers := make([]pipeline.Handler, len(cfg.Routes))
	for i := range cfg.Routes {
		h, err := comp.routeHandler(cfg, &cfg.Routes[i])
		if err != nil {
			comp.close(ctx)
			return nil, fmt.Errorf("routes[%d] %q: %w", i, cfg.Routes[i].Name, err)
		}
		handlers[i] = h
	}
	if s.router, err = route.NewRouter(cfg.Routes, handlers); err != nil {
		return nil, err
	}
	return s, nil
}

func routeNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Routes))
	for i := range cfg.Routes {
		names = append(names, cfg.Routes[i].Name)
	}
	return names
}

// ServeHTTP runs one request through the pipeline of its route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &pipeline.State{Start: time.Now()}
	r.TLS = listener.TLSState(r) // HTTP/1.1 over TLS reaches Go through the scanning listener
	st.Input.Request.ID = s.requestID(r.Header.Get(proxy.RequestIDHeader))
	st.DecisionID = uuid.NewString()
	arrival(st, r)
	w.Header().Set(proxy.RequestIDHeader, st.Input.Request.ID)
	w.Header().Set(DecisionIDHeader, st.DecisionID)
	rec := &recorder{ResponseWriter: w}
	r = r.WithContext(pipeline.WithState(r.Context(), st))
	// Every exit records the outcome, a panicking stage included: the
	// decision log must not miss the requests that went wrong.
	defer s.finish(rec, r, st)

	if err := s.serve(rec, r, st); err != nil {
		render(rec, r, st, err, s.requestLogger(st))
	}
}

// finish writes the metrics and the decision-log event of a request. A
// panic in the pipeline becomes a 500 (or, for http.ErrAbortHandler, which
// ReverseProxy uses to cut a response it cannot complete, an aborted
// connection) after it is recorded.
func (s *Server) finish(rec *recorder, r *http.Request, st *pipeline.State) {
	v := recover()
	if v != nil && v != http.ErrAbortHandler {
		s.requestLogger(st).Error().Interface("panic", v).Bytes("stack", debug.Stack()).Msg("pipeline panicked")
		if rec.status == 0 {
			render(rec, r, st, problem.New(http.StatusInternalServerError, "internal_error", "the gateway failed to handle the request"), s.requestLogger(st))
		} else {
			st.Status, st.Reason = http.StatusInternalServerError, "internal_error"
		}
	}
	if st.Status == 0 {
		st.Status = rec.status
		if st.Status == 0 {
			st.Status = http.StatusOK
		}
	}
	if st.Reason == "" {
		st.Reason = "allow"
	}
	if v == http.ErrAbortHandler {
		st.Reason = "response_aborted"
	}
	routeName := st.Input.Route.Name
	s.metrics.requests.WithLabelValues(routeName, methodLabel(r.Method), statusLabel(st.Status)).Inc()
	s.comp.logDecision(r.Context(), r.Header, st, s.logHeaders)
	// After the decision log: the response leaves when the handler returns.
	s.metrics.observe(routeName, st, time.Now())
	if v == http.ErrAbortHandler {
		panic(v)
	}
}

func (s *Server) requestLogger(st *pipeline.State) *zerolog.Logger {
	l := s.log.With().Str("request_id", st.Input.Request.ID).Str("route", st.Input.Route.Name).Logger()
	return &l
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, st *pipeline.State) error {
	if err := listener.Refusal(r); err != nil { // a head the connection refused
		return err
	}
	if err := s.comp.accepting(); err != nil {
		return err
	}
	if err := body.CheckRequestLimits(r, s.cfg.Limits); err != nil {
		return err
	}
	if err := s.headers.Screen(r, &st.Input.Request); err != nil {
		return err
	}
	raw, err := rawPath(r)
	if err == nil {
		raw, err = route.Normalize(raw, s.cfg.Paths)
	}
	if err != nil {
		return problem.Wrap(http.StatusBadRequest, "path_rejected", "the request path is not acceptable: "+err.Error(), err)
	}
	r.URL.Path, r.URL.RawPath = raw, ""
	st.Input.Request.Path = raw // canonical: a 404 or 405 is logged with it

	m, ok := s.router.Lookup(st.Input.Request.Method, st.Input.Request.Host, raw)
	if !ok {
		if len(m.Allow) > 0 {
			return problem.New(http.StatusMethodNotAllowed, "method_not_allowed", "the route does not accept "+r.Method).
				WithHeader("Allow", strings.Join(m.Allow, ", "))
		}
		return problem.New(http.StatusNotFound, "no_route", "no route matches the request")
	}
	if err := body.CheckRouteLimits(r, s.cfg.Limits, m.Route.Limits); err != nil {
		return err
	}
	if err := s.headers.Prepare(r, m.Route); err != nil {
		return err
	}
	s.fillRequest(r, st, m.Route)
	return m.Value.ServeHTTP(w, r)
}

// rawPath returns the still-encoded path of the request target.
func rawPath(r *http.Request) (string, error) {
	uri := r.RequestURI
	if strings.HasPrefix(uri, "/") {
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			uri = uri[:i]
		}
		return uri, nil
	}
	if r.URL.IsAbs() {
		return r.URL.EscapedPath(), nil
	}
	return "", route.ErrNotOrigin
}

// fillRequest sets input.request and input.route. Credentials (the
// Authorization header, cookies, the API-key header, credential query
// parameters) and identity headers never enter the input.
func (s *Server) fillRequest(r *http.Request, st *pipeline.State, rt *config.Route) {
	in := &st.Input
	in.Route.Name = rt.Name
	in.Route.Tags = rt.Tags
	in.OPAEnvoy = rt.Policy.InputCompat == "opa-envoy"
	req := &in.Request // Method, WireMethod, Host and Port: set by Screen
	req.Path = r.URL.Path
	req.Segments = strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(req.Segments) == 1 && req.Segments[0] == "" {
		req.Segments = req.Segments[:0]
	}
	req.Scheme = "http"
	if r.TLS != nil {
		req.Scheme = "https"
	}
	req.RemoteAddr = r.RemoteAddr
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		for _, name := range s.credQuery[rt] {
			delete(q, name)
		}
		for name := range q {
			if s.secretQuery.Is(name) {
				delete(q, name)
			}
		}
		req.Query = q
	}
	req.Headers = make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		if s.inputExclude.Has(k) {
			continue
		}
		lk := lowerHeader(k)
		if len(v) == 1 {
			req.Headers[lk] = v[0]
		} else {
			req.Headers[lk] = strings.Join(v, ", ")
		}
	}
}

// commonLower avoids an allocation per header for the usual names.
var commonLower = map[string]string{}

func init() {
	for _, h := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "Content-Length",
		"User-Agent", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Origin",
		"Referer", "Cache-Control", "Connection", "Expect", "If-None-Match", "If-Modified-Since", "Traceparent"} {
		commonLower[h] = strings.ToLower(h)
	}
}

func lowerHeader(k string) string {
	if l, ok := commonLower[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// requestID keeps a client's X-Request-Id when it is short and plain, else
// makes one: a random per-process prefix and a counter, unique and cheap.
func (s *Server) requestID(in string) string {
	if n := len(in); n > 0 && n <= 128 && plainID(in) {
		return in
	}
	return s.ridPrefix + strconv.FormatUint(s.ridSeq.Add(1), 36)
}

func plainID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// recorder remembers the status the pipeline wrote.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Run serves the proxy and admin listeners until ctx is done, then shuts
// down gracefully: in-flight requests get listen.shutdown_grace to finish.
func (s *Server) Run(ctx context.Context) error {
	l := s.cfg.Listen
	proxySrv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    int(l.MaxHeaderBytes),
		ErrorLog:          nil,
	}
	adminSrv := &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	pl, err := net.Listen("tcp", l.Proxy)
	if err != nil {
		return fmt.Errorf("listen.proxy: %w", err)
	}
	var tlsCfg *tls.Config
	if l.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(l.TLSCertFile, l.TLSKeyFile)
		if err != nil {
			pl.Close()
			return fmt.Errorf("listen.tls_cert_file: %w", err)
		}
		tlsCfg = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
		}
	}
	if pl, err = s.proxyListener(pl, tlsCfg, proxySrv); err != nil {
		return err
	}
	al, err := net.Listen("tcp", l.Admin)
	if err != nil {
		pl.Close()
		return fmt.Errorf("listen.admin: %w", err)
	}
	s.comp.start(ctx)
	errc := make(chan error, 2)
	go func() { errc <- proxySrv.Serve(pl) }()
	go func() { errc <- adminSrv.Serve(al) }()
	s.log.Info().Str("proxy", pl.Addr().String()).Str("admin", al.Addr().String()).Str("version", s.version).Msg("portcullis started")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.log.Info().Dur("grace", l.ShutdownGrace).Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), l.ShutdownGrace)
	defer cancel()
	if err := proxySrv.Shutdown(sctx); err != nil {
		s.log.Warn().Err(err).Msg("proxy shutdown incomplete")
		proxySrv.Close()
	}
	_ = adminSrv.Shutdown(sctx)
	s.comp.close(sctx)
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

// Reload re-reads bundles and OpenAPI specs and reopens log files (SIGHUP).
// What fails to load is reported and the running version is kept.
func (s *Server) Reload(ctx context.Context) error {
	return s.comp.reload(ctx)
}
