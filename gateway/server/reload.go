package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/internal/promreg"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
	"github.com/portcullis/portcullis/policy/fetch"
	"github.com/portcullis/portcullis/policy/shadow"
	"github.com/portcullis/portcullis/policy/watch"
)

// reloadState is what the server knows about building generations: one
// reload at a time, the outcome of the last ones, the file watcher and
// the generations still retiring.
type reloadState struct {
	build sync.Mutex // one reload at a time; guards runCtx, stopped, watcher, watched
	// runCtx is set by Run; a generation built later starts on it.
	runCtx  context.Context
	stopped bool
	watcher *watch.Watcher
	watched []string

	mu          sync.Mutex // guards the outcome, read by /v1/status during a build
	successes   int64
	failures    int64
	lastSuccess time.Time
	lastErr     string
	lastErrAt   time.Time
	restart     []string
	retiring    sync.WaitGroup

	total     *prometheus.CounterVec
	lastOK    prometheus.Gauge
	genNumber prometheus.Gauge
}

func newReloadState(reg prometheus.Registerer, g *generation.Generation) *reloadState {
	rs := &reloadState{
		lastSuccess: g.BuiltAt,
		total: promreg.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_config_reload_total",
			Help: "Builds of a new generation after start (SIGHUP or a changed file) by result (success, failure); a failure changes nothing.",
		}, []string{"result"})),
		lastOK: promreg.MustRegister(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_config_last_reload_success_timestamp_seconds",
			Help: "Unix time the running generation was built.",
		})),
		genNumber: promreg.MustRegister(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_config_generation",
			Help: "Number of the running generation: 1 at start, one more per successful reload.",
		})),
	}
	rs.total.WithLabelValues("success")
	rs.total.WithLabelValues("failure")
	rs.lastOK.Set(float64(g.BuiltAt.UnixNano()) / 1e9)
	rs.genNumber.Set(float64(g.Number))
	return rs
}

func (s *Server) buildOptions() generation.Options {
	return generation.Options{Logger: s.log, Registerer: s.reg, Version: s.version, Masker: liveMasker{s}, Tracing: s.tracer != nil}
}

// liveMasker masks decision-log events with the running generation's
// policy: the decision log may be older than the generation.
type liveMasker struct{ s *Server }

func (m liveMasker) MaskActive() bool { return m.s.gen.Load().Engine.MaskActive() }

func (m liveMasker) Mask(ctx context.Context, event map[string]any) ([]policy.MaskOp, bool, error) {
	return m.s.gen.Load().Engine.Mask(ctx, event)
}

// hold returns the running generation, held for one request. The second
// load makes sure a generation being retired is never picked up after
// its retirement began.
func (s *Server) hold() *generation.Generation {
	for {
		g := s.gen.Load()
		g.Hold()
		if s.gen.Load() == g {
			return g
		}
		g.Release()
	}
}

// Reload builds a new generation from the configuration file (re-read;
// the one given to New when it has no file) and the files it names, and
// swaps it in. A build that fails changes nothing: the error is logged
// once, counted and shown on /v1/status. Settings that need a restart are
// kept as they are and reported. cause is logged ("SIGHUP", "file change").
func (s *Server) Reload(ctx context.Context, cause string) error {
	return s.reload(ctx, cause, nil, nil)
}

// reload is Reload with the configuration passed through edit when it is
// not nil, and commit called after a successful build, before the swap.
func (s *Server) reload(ctx context.Context, cause string, edit func(*config.Config) *config.Config, commit func() error) error {
	rs := s.reloads
	rs.build.Lock()
	defer rs.build.Unlock()
	if rs.stopped {
		return errors.New("the server is stopping")
	}
	prev := s.gen.Load()
	cfg, err := s.loadConfig(prev)
	var restart []string
	var g *generation.Generation
	if err == nil {
		restart = pinRestart(s.boot, cfg)
		if edit != nil {
			cfg = edit(cfg)
		}
		g, err = generation.Build(ctx, cfg, prev, s.buildOptions())
	}
	if err != nil {
		rs.mu.Lock()
		rs.failures++
		rs.lastErr, rs.lastErrAt = err.Error(), time.Now()
		rs.mu.Unlock()
		rs.total.WithLabelValues("failure").Inc()
		s.log.Error().Err(err).Str("cause", cause).Uint64("generation", prev.Number).Msg("reload failed; the running generation is kept")
		return err
	}
	if commit != nil {
		if err := commit(); err != nil {
			s.log.Error().Err(err).Str("cause", cause).Msg("activated bundle not persisted")
		}
	}
	if cause == "SIGHUP" && g.DecisionLog != nil {
		if err := g.DecisionLog.Reopen(); err != nil { // after logrotate
			s.log.Error().Err(err).Msg("decision log file not reopened")
		}
	}
	if rs.runCtx != nil {
		g.Start(rs.runCtx)
	}
	rs.mu.Lock()
	s.gen.Store(g) // with the outcome, so /v1/status shows them together
	rs.successes++
	rs.lastSuccess, rs.lastErr, rs.lastErrAt = g.BuiltAt, "", time.Time{}
	announce := len(restart) > 0 && !reflect.DeepEqual(restart, rs.restart)
	rs.restart = restart
	rs.mu.Unlock()
	rs.total.WithLabelValues("success").Inc()
	rs.lastOK.Set(float64(g.BuiltAt.UnixNano()) / 1e9)
	rs.genNumber.Set(float64(g.Number))
	swapped := s.log.Info().Str("cause", cause).Uint64("generation", g.Number).Interface("bundles", g.Engine.Status().Bundles)
	if g.Shadow != nil {
		swapped = swapped.Interface("shadow_bundles", g.Shadow.Status().Bundles)
	}
	swapped.Msg("generation swapped in")
	if announce {
		s.log.Warn().Strs("needs_restart", restart).Msg("settings changed that apply only after a restart; they are ignored until then")
	}
	rs.retiring.Add(1)
	go func() {
		defer rs.retiring.Done()
		// In-flight requests finish on prev; a connection that outlives
		// the grace (a WebSocket) does not keep prev's parts open.
		rctx, cancel := context.WithTimeout(context.Background(), g.Config.Listen.ShutdownGrace)
		defer cancel()
		prev.Retire(rctx, g, s.log)
	}()
	s.watchLocked(g)
	return nil
}

func (s *Server) loadConfig(prev *generation.Generation) (*config.Config, error) {
	if s.boot.File == "" { // built in code: the same settings, the files read again
		return prev.Config, nil
	}
	return config.Load(s.boot.File)
}

// restartFields are the settings a running process cannot change: the
// listeners and their server limits are fixed when they are opened, the
// log is the process's own, and the body budget bounds memory across
// generations. Each pins next to boot's value and reports a difference.
var restartFields = []struct {
	name string
	pin  func(boot, next *config.Config) bool
}{
	{"listen.proxy", pinned(func(c *config.Config) *string { return &c.Listen.Proxy })},
	{"listen.admin", pinned(func(c *config.Config) *string { return &c.Listen.Admin })},
	{"listen.max_connections", pinned(func(c *config.Config) *int { return &c.Listen.MaxConnections })},
	{"listen.max_header_bytes", pinned(func(c *config.Config) *config.ByteSize { return &c.Listen.MaxHeaderBytes })},
	{"listen.read_header_timeout", pinned(func(c *config.Config) *time.Duration { return &c.Listen.ReadHeaderTimeout })},
	{"listen.read_timeout", pinned(func(c *config.Config) *time.Duration { return &c.Listen.ReadTimeout })},
	{"listen.write_timeout", pinned(func(c *config.Config) *time.Duration { return &c.Listen.WriteTimeout })},
	{"listen.idle_timeout", pinned(func(c *config.Config) *time.Duration { return &c.Listen.IdleTimeout })},
	{"listen.tls_cert_file (TLS on or off)", func(boot, next *config.Config) bool {
		if (boot.Listen.TLSCertFile == "") == (next.Listen.TLSCertFile == "") {
			return false // a new certificate is live, turning TLS on or off is not
		}
		next.Listen.TLSCertFile, next.Listen.TLSKeyFile = boot.Listen.TLSCertFile, boot.Listen.TLSKeyFile
		return true
	}},
	{"log.level", pinned(func(c *config.Config) *string { return &c.Log.Level })},
	{"log.format", pinned(func(c *config.Config) *string { return &c.Log.Format })},
	{"limits.max_buffered_bytes", pinned(func(c *config.Config) *config.ByteSize { return &c.Limits.MaxBufferedBytes })},
	{"limits.max_anonymous_buffered_bytes", pinned(func(c *config.Config) *config.ByteSize { return &c.Limits.MaxAnonymousBufferedBytes })},
	// The tracer provider and its exporter are the process's (Options.Tracer).
	{"tracing", func(boot, next *config.Config) bool {
		if reflect.DeepEqual(boot.Tracing, next.Tracing) {
			return false
		}
		next.Tracing = boot.Tracing
		return true
	}},
	{"policy url bundles, services, status, persistence_directory", pinRemote},
}

func pinned[T comparable](field func(*config.Config) *T) func(boot, next *config.Config) bool {
	return func(boot, next *config.Config) bool {
		b, n := field(boot), field(next)
		if *b == *n {
			return false
		}
		*n = *b
		return true
	}
}

// pinRestart sets next's restart-only settings to boot's and returns the
// names of those that differed.
func pinRestart(boot, next *config.Config) []string {
	var changed []string
	for _, f := range restartFields {
		if f.pin(boot, next) {
			changed = append(changed, f.name)
		}
	}
	return changed
}

// watchLocked watches every file g's configuration names, replacing the
// watcher when the set changed. The old watcher is closed on its own
// goroutine: this may run inside its OnChange, which Close waits for.
func (s *Server) watchLocked(g *generation.Generation) {
	rs := s.reloads
	if rs.runCtx == nil {
		return
	}
	files := generation.Files(g.Config)
	if !*g.Config.Policy.Watch {
		files = nil
	}
	if reflect.DeepEqual(files, rs.watched) && rs.watcher != nil {
		return
	}
	if old := rs.watcher; old != nil {
		go old.Close()
	}
	rs.watcher, rs.watched = nil, files
	if len(files) == 0 {
		return
	}
	w, err := watch.New(watch.Options{Paths: files, Debounce: g.Config.Policy.Debounce, Logger: s.log, OnChange: func() {
		_ = s.Reload(context.Background(), "file change")
	}})
	if err != nil {
		s.log.Error().Err(err).Msg("cannot watch the configuration's files; reload with SIGHUP")
		rs.watched = nil
		return
	}
	rs.watcher = w
}

// startReloads is called by Run: generations built from now on start at
// once, and the files are watched.
func (s *Server) startReloads(ctx context.Context) {
	rs := s.reloads
	rs.build.Lock()
	defer rs.build.Unlock()
	rs.runCtx = ctx
	s.gen.Load().Start(ctx)
	s.watchLocked(s.gen.Load())
	s.remote.start(ctx)
}

// stopReloads stops watching, waits for retiring generations and closes
// the running one (its decision log is flushed within ctx).
func (s *Server) stopReloads(ctx context.Context) error {
	rs := s.reloads
	s.remote.stop(ctx) // before the lock: an activation under way takes it
	rs.build.Lock()
	rs.stopped = true
	w := rs.watcher
	rs.watcher = nil
	rs.build.Unlock()
	var errs []error
	if w != nil { // outside the lock: a running OnChange may wait for it
		errs = append(errs, w.Close())
	}
	rs.retiring.Wait()
	if err := s.gen.Load().Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("decision log not fully flushed: %w", err))
	}
	return errors.Join(errs...)
}

// reloadStatus is the reload part of /v1/status.
type reloadStatus struct {
	Generation uint64        `json:"generation"`
	BuiltAt    time.Time     `json:"built_at"`
	Config     string        `json:"config,omitempty"`
	Policy     engine.Status `json:"policy"`
	// Shadow summarizes policy.shadow since its candidate was activated.
	Shadow        *shadow.Status `json:"shadow,omitempty"`
	Successes     int64          `json:"reloads"`
	Failures      int64          `json:"reload_failures"`
	LastSuccessAt time.Time      `json:"last_success_at"`
	LastError     string         `json:"last_error,omitempty"`
	LastErrorAt   *time.Time     `json:"last_error_at,omitempty"`
	NeedsRestart  []string       `json:"needs_restart,omitempty"`
	Draining      bool           `json:"draining,omitempty"`
	// Pending are the url bundles not downloaded yet; Remote their polls.
	Pending []string       `json:"pending_bundles,omitempty"`
	Remote  []fetch.Status `json:"remote_bundles,omitempty"`
}

func (s *Server) status() reloadStatus {
	g := s.gen.Load()
	rs := s.reloads
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := reloadStatus{
		Generation: g.Number, BuiltAt: g.BuiltAt, Config: g.Config.File, Policy: g.Engine.Status(),
		Successes: rs.successes, Failures: rs.failures, LastSuccessAt: rs.lastSuccess,
		LastError: rs.lastErr, NeedsRestart: rs.restart, Draining: s.draining.Load(),
		Pending: g.Pending, Remote: s.remote.status(),
	}
	if g.Shadow != nil {
		sh := g.Shadow.Status()
		st.Shadow = &sh
	}
	if rs.lastErr != "" {
		at := rs.lastErrAt
		st.LastErrorAt = &at
	}
	return st
}
