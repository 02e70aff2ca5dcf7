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

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/listener"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/route"
	"github.com/portcullis/portcullis/gateway/tracing"
)

// Options are what New needs besides the configuration.
type Options struct {
	Logger zerolog.Logger
	// Version is reported in metrics, /v1/status and decision-log labels.
	Version string
	// Registry collects the metrics served on /metrics. Nil: a new one.
	Registry *prometheus.Registry
	// Tracer starts the spans of requests (tracing.New); nil: tracing off.
	Tracer *tracing.Tracer
}

// Server is the gateway: the proxy handler, the admin handler and the
// generation behind them. Build it with New, run it with Run.
type Server struct {
	log     zerolog.Logger
	version string
	reg     *prometheus.Registry
	metrics *httpMetrics
	tracer  *tracing.Tracer
	// gen is the running generation; each request loads it once.
	gen atomic.Pointer[generation.Generation]
	// boot is the configuration the listeners were started with: what
	// cannot change live is pinned to it (see restartFields).
	boot     *config.Config
	reloads  *reloadState
	remote   *remote // nil without url bundles
	draining atomic.Bool

	ridPrefix string
	ridSeq    atomic.Uint64
}

// New builds the first generation from cfg (see generation.Build).
// Nothing is parsed or compiled per request afterwards.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	uuid.EnableRandPool() // decision ids without a crypto/rand call each
	var pfx [6]byte
	_, _ = rand.Read(pfx[:])
	s := &Server{
		log:       opts.Logger,
		version:   opts.Version,
		reg:       reg,
		tracer:    opts.Tracer,
		boot:      cfg,
		ridPrefix: hex.EncodeToString(pfx[:]) + "-",
	}
	// Before the first build: a url bundle that does not persist forgets
	// its earlier download here.
	var err error
	if s.remote, err = s.newRemote(cfg); err != nil {
		return nil, err
	}
	g, err := generation.Build(ctx, cfg, nil, s.buildOptions())
	if err != nil {
		return nil, err
	}
	s.metrics = newHTTPMetrics(reg, opts.Version, routeNames(cfg), s.ready)
	s.reloads = newReloadState(reg, g)
	s.gen.Store(g)
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
	x := newExchange(time.Now())
	r.TLS = listener.TLSState(r) // HTTP/1.1 over TLS reaches Go through the scanning listener
	// The name is canonical: indexed, not canonicalized again as Get does.
	var sent string
	if v := r.Header[proxy.RequestIDHeader]; len(v) > 0 {
		sent = v[0]
	}
	x.in.Request.ID, x.decisionID = s.ids(sent)
	x.authz.DecisionID = x.decisionID
	input.Arrive(&x.in, r)
	// As Header.Set (the names are canonical), without a slice for each.
	x.ids = [2]string{x.in.Request.ID, x.decisionID}
	h := w.Header()
	h[proxy.RequestIDHeader], h[DecisionIDHeader] = x.ids[0:1:1], x.ids[1:2:2]
	x.rec.ResponseWriter = w
	rec := &x.rec
	ctx := r.Context()
	if s.tracer != nil {
		ctx, x.span = s.tracer.StartRequest(ctx, r)
	}
	// The pipeline's context ends with the request; finish keeps ctx,
	// which the route's timeout does not cancel.
	r = r.WithContext(pipeline.WithRequest(ctx, &x.rq))
	defer x.rq.End()
	// The request starts and finishes on one generation.
	g := s.hold()
	defer g.Release()
	var err error
	// Every exit records the outcome, a panicking stage included: the
	// decision log must not miss the requests that went wrong.
	defer func() { s.finish(ctx, rec, r, x, g, err, recover()) }()
	err = s.serve(rec, r, x, g)
}

// finish settles the outcome of a request from what the chain returned
// (err) or how it panicked (v), answers a problem nobody sent, and writes
// the metrics and the decision-log event. A panic with
// http.ErrAbortHandler, which ReverseProxy uses to cut a response it
// cannot complete, is re-raised after it is recorded so the connection is
// aborted. ctx is the request's context outside the pipeline's: a client
// gone cancels it, the route's timeout does not.
func (s *Server) finish(ctx context.Context, rec *recorder, r *http.Request, x *exchange, g *generation.Generation, err error, v any) {
	if v != nil && v != http.ErrAbortHandler {
		s.requestLogger(x).Error().Interface("panic", v).Bytes("stack", debug.Stack()).Msg("pipeline panicked")
	}
	gone := errors.Is(err, proxy.ErrClientGone) || errors.Is(ctx.Err(), context.Canceled)
	o := pipeline.Settle(pipeline.End{Err: err, Panic: v, Written: rec.status, Gone: gone})
	if o.Problem != nil {
		render(rec, o.Problem, x.in.Request.ID, s.requestLogger(x))
	}
	routeName := x.in.Route.Name
	s.metrics.count(routeName, r.Method, o, x.in.Identity)
	logDecision(ctx, g, r.Header, x, err, o)
	// After the decision log: the response leaves when the handler returns.
	s.metrics.observe(routeName, x.start, &x.up, time.Now())
	if x.span != nil {
		tracing.Finish(x.span, routeName, methodLabel(r.Method), o.Status, string(o.Reason), x.decisionID)
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
}

func (s *Server) requestLogger(x *exchange) *zerolog.Logger {
	l := s.log.With().Str("request_id", x.in.Request.ID).Str("route", x.in.Route.Name).Logger()
	return &l
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, x *exchange, g *generation.Generation) error {
	if err := listener.Refusal(r); err != nil { // a head the connection refused
		return err
	}
	if err := g.Accepting(); err != nil {
		return err
	}
	if err := body.CheckRequestLimits(r, g.Config.Limits); err != nil {
		return err
	}
	if err := g.Headers.Screen(r, &x.in.Request); err != nil {
		return err
	}
	raw, err := rawPath(r)
	if err == nil {
		raw, err = route.Normalize(raw, g.Config.Paths)
	}
	if err != nil {
		return problem.Wrap(http.StatusBadRequest, "path_rejected", "the request path is not acceptable: "+err.Error(), err)
	}
	r.URL.Path, r.URL.RawPath = raw, ""
	x.in.Request.Path = raw // canonical: a 404 or 405 is logged with it

	m, ok := lookup(g.Router, r, x.in.Request.Method, x.in.Request.Host, raw)
	if !ok {
		if len(m.Allow) > 0 {
			return problem.New(http.StatusMethodNotAllowed, "method_not_allowed", "the route does not accept "+r.Method).
				WithHeader("Allow", strings.Join(m.Allow, ", "))
		}
		return problem.New(http.StatusNotFound, "no_route", "no route matches the request")
	}
	if err := body.CheckRouteLimits(r, g.Config.Limits, m.Route.Limits); err != nil {
		return err
	}
	if err := g.Headers.Prepare(r, m.Route); err != nil {
		return err
	}
	g.Input.Routed(&x.in, r, m.Route)
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

// ids returns the request id and a new decision id (a random UUID), the
// ids made in one allocation. The request id keeps a client's
// X-Request-Id (in) when it is short and plain, else is made: a random
// per-process prefix and a counter, unique and cheap.
func (s *Server) ids(in string) (requestID, decisionID string) {
	keep := len(in) > 0 && len(in) <= 128 && plainID(in)
	var b strings.Builder
	if keep {
		b.Grow(uuidLen)
	} else {
		b.Grow(len(s.ridPrefix) + maxBase36Len + uuidLen)
		b.WriteString(s.ridPrefix)
		var seq [maxBase36Len]byte
		b.Write(strconv.AppendUint(seq[:0], s.ridSeq.Add(1), 36))
	}
	n := b.Len()
	var u [uuidLen]byte
	b.Write(appendUUID(u[:0], uuid.New()))
	ids := b.String()
	if keep {
		return in, ids
	}
	return ids[:n], ids[n:]
}

// maxBase36Len is the length of the largest uint64 in base 36.
const maxBase36Len = 13

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

// Run serves the proxy and admin listeners until ctx is done, then drains
// like Envoy and Kong: /readyz answers 503 at once, the proxy listener
// keeps accepting for listen.drain_delay so that load balancers notice,
// then it stops accepting and in-flight requests get listen.shutdown_grace.
func (s *Server) Run(ctx context.Context) error {
	l := s.boot.Listen
	proxySrv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    int(l.MaxHeaderBytes),
		ErrorLog:          httpErrorLog(s.log),
	}
	adminSrv := &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          httpErrorLog(s.log),
	}
	pl, err := net.Listen("tcp", l.Proxy)
	if err != nil {
		return fmt.Errorf("listen.proxy: %w", err)
	}
	var tlsCfg *tls.Config
	if l.TLSCertFile != "" {
		tlsCfg = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The running generation's certificate: a renewed one is live.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.gen.Load().Certificate, nil },
			NextProtos:     []string{"h2", "http/1.1"},
		}
		tlsCfg.GetConfigForClient = clientAuthConfig(tlsCfg, s.gen.Load)
	}
	if pl, err = s.proxyListener(pl, tlsCfg, proxySrv); err != nil {
		return err
	}
	al, err := net.Listen("tcp", l.Admin)
	if err != nil {
		pl.Close()
		return fmt.Errorf("listen.admin: %w", err)
	}
	// Background work outlives ctx until the end of Run: key sets stay
	// fresh while in-flight requests drain.
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBg()
	s.startReloads(bg)
	errc := make(chan error, 2)
	go func() { errc <- proxySrv.Serve(pl) }()
	go func() { errc <- adminSrv.Serve(al) }()
	s.logStarted(s.gen.Load(), pl.Addr().String(), al.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
		s.drain()
	case runErr = <-errc:
	}
	grace := s.gen.Load().Config.Listen.ShutdownGrace
	s.log.Info().Dur("grace", grace).Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := proxySrv.Shutdown(sctx); err != nil {
		s.log.Warn().Err(err).Msg("proxy shutdown incomplete")
		proxySrv.Close()
	}
	_ = adminSrv.Shutdown(sctx)
	if err := s.stopReloads(sctx); err != nil {
		s.log.Error().Err(err).Msg("shutdown incomplete")
	}
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

// drain fails readiness and keeps serving for listen.drain_delay.
func (s *Server) drain() {
	s.draining.Store(true)
	d := s.gen.Load().Config.Listen.DrainDelay
	s.log.Info().Dur("drain_delay", d).Msg("draining: /readyz fails, still accepting")
	if d > 0 {
		time.Sleep(d)
	}
}
