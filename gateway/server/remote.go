package server

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/policy/fetch"
)

// remote runs the fetchers of the url bundles and the status reporter;
// both are fixed at start (their settings need a restart).
type remote struct {
	sources  []*fetch.Source
	reporter *fetch.Reporter
}

func fetchService(s *config.Service) fetch.Service {
	if s == nil {
		return fetch.Service{}
	}
	fs := fetch.Service{Name: s.Name, URL: s.URL, Type: s.Type, Headers: s.Headers, Timeout: s.Timeout}
	if b := s.Credentials.Bearer; b != nil {
		fs.BearerTokenFile, fs.BearerScheme = b.TokenFile, b.Scheme
	}
	if t := s.Credentials.ClientTLS; t != nil {
		fs.CertFile, fs.KeyFile = t.CertFile, t.KeyFile
	}
	if t := s.TLS; t != nil {
		fs.CAFile = t.CAFile
	}
	return fs
}

// newRemote prepares a fetcher per url bundle of cfg; nil without any.
func (s *Server) newRemote(cfg *config.Config) (*remote, error) {
	p := &cfg.Policy
	r := &remote{}
	m := fetch.NewMetrics(s.reg)
	for _, b := range p.Bundles {
		if b.URL == "" {
			continue
		}
		name := b.Name
		src, err := fetch.New(fetch.Options{
			Name: name, URL: b.URL, Service: fetchService(p.Service(b.Service)),
			Dir: filepath.Dir(b.File), Persist: *b.Persist,
			MinDelay: b.Polling.MinDelay, MaxDelay: b.Polling.MaxDelay, LongPoll: b.Polling.LongPollingTimeout,
			MaxBytes: int64(p.MaxBundleBytes), Logger: s.log, Metrics: m,
			Activate: func(ctx context.Context, file string, commit func() error) error {
				return s.reload(ctx, "bundle download", func(c *config.Config) *config.Config { return withBundleFile(c, name, file) }, commit)
			},
			OnStatus: func() {
				if r.reporter != nil {
					r.reporter.Changed()
				}
			},
		})
		if err != nil {
			return nil, err
		}
		r.sources = append(r.sources, src)
	}
	if st := p.Status; st != nil {
		host, _ := os.Hostname()
		labels := map[string]string{"id": host + "-" + s.ridPrefix[:len(s.ridPrefix)-1], "version": s.version, "app": "portcullis"}
		rep, err := fetch.NewReporter(fetchService(p.Service(st.Service)), labels, func() []*fetch.Source { return r.sources }, s.log)
		if err != nil {
			return nil, err
		}
		r.reporter = rep
	}
	if len(r.sources) == 0 && r.reporter == nil {
		return nil, nil
	}
	return r, nil
}

// withBundleFile returns a copy of cfg that reads bundle name from file.
func withBundleFile(cfg *config.Config, name, file string) *config.Config {
	c := *cfg
	c.Policy.Bundles = slices.Clone(cfg.Policy.Bundles)
	for i := range c.Policy.Bundles {
		if c.Policy.Bundles[i].Name == name {
			c.Policy.Bundles[i].File = file
		}
	}
	return &c
}

func (r *remote) start(ctx context.Context) {
	if r == nil {
		return
	}
	if r.reporter != nil {
		r.reporter.Start()
		r.reporter.Changed()
	}
	for _, src := range r.sources {
		src.Start(ctx)
	}
}

// stop ends polling; it waits for an activation under way, so it runs
// before the reload lock is taken.
func (r *remote) stop(ctx context.Context) {
	if r == nil {
		return
	}
	for _, src := range r.sources {
		src.Stop(ctx)
	}
	if r.reporter != nil {
		r.reporter.Close()
	}
}

func (r *remote) status() []fetch.Status {
	if r == nil {
		return nil
	}
	out := make([]fetch.Status, len(r.sources))
	for i, src := range r.sources {
		out[i] = src.Status()
	}
	return out
}

// remoteSettings are what the fetchers and the status reporter are built
// from at start.
type remoteSettings struct {
	bundles  []config.BundleSource
	services []config.Service
	status   *config.StatusReport
	dir      string
}

func remoteOf(c *config.Config) remoteSettings {
	r := remoteSettings{services: c.Policy.Services, status: c.Policy.Status, dir: c.Policy.PersistenceDirectory}
	for _, b := range c.Policy.Bundles {
		if b.URL != "" {
			b.File = "" // the download an activation reads, not a setting
			r.bundles = append(r.bundles, b)
		}
	}
	return r
}

// pinRemote keeps boot's url bundles, services and status report in next:
// a url bundle added by a reload has no fetcher, and its generation would
// wait for it, refusing every request.
func pinRemote(boot, next *config.Config) bool {
	b, n := remoteOf(boot), remoteOf(next)
	if reflect.DeepEqual(b, n) {
		return false
	}
	p := &next.Policy
	p.Services, p.Status, p.PersistenceDirectory = b.services, b.status, b.dir
	p.Bundles = slices.DeleteFunc(p.Bundles, func(s config.BundleSource) bool { return s.URL != "" })
	for _, s := range boot.Policy.Bundles {
		if s.URL != "" {
			p.Bundles = append(p.Bundles, s)
		}
	}
	return true
}
