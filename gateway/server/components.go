package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/gateway/authn/introspect"
	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/validate"
	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/decisionlog"
	"github.com/portcullis/portcullis/policy/engine"
	"github.com/portcullis/portcullis/policy/watch"
)

// components are the long-lived parts every route pipeline shares.
type components struct {
	cfg *config.Config
	log zerolog.Logger
	reg prometheus.Registerer

	engine     *engine.Engine
	jwt        *jwt.Authenticator
	introspect *introspect.Client
	apikeys    *apikey.Authenticator
	validators []*validate.Validator
	// budget bounds the memory of all buffered request bodies.
	budget *body.Budget
	// usesAPIKeys is set when a route accepts API keys, so that readiness
	// depends on a usable consumer index.
	usesAPIKeys bool
	dlog        *decisionlog.Logger
	dlogPath    string
	watchers    []*watch.Watcher
}

// EngineOptions translates the policy section of cfg for engine.New.
func EngineOptions(cfg *config.Config, reg prometheus.Registerer, log zerolog.Logger) engine.Options {
	p := cfg.Policy
	o := engine.Options{
		Query:             p.Decision,
		Timeout:           p.Timeout,
		RequireTests:      p.RequireTests,
		MaxBundleBytes:    int64(p.MaxBundleBytes),
		MaskRule:          cfg.DecisionLog.MaskRule,
		DropRule:          cfg.DecisionLog.DropRule,
		Logger:            log,
		Registerer:        reg,
		DecisionCacheSize: p.DecisionCacheSize,
	}
	for _, b := range p.Bundles {
		o.Sources = append(o.Sources, bundle.Source{Name: b.Name, Path: b.Path})
	}
	if s := p.Signing; s != nil {
		o.Signing = &bundle.Signing{KeyFile: s.KeyFile, KeyID: s.KeyID, Algorithm: s.Algorithm, Scope: s.Scope}
	}
	return o
}

func newComponents(ctx context.Context, cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer, version string) (_ *components, err error) {
	c := &components{cfg: cfg, log: log, reg: reg}
	defer func() {
		if err != nil { // c, not the nil result: close what was started
			c.close(ctx)
		}
	}()
	if c.engine, err = engine.New(ctx, EngineOptions(cfg, reg, log)); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(cfg.Authn.JWT.Issuers) > 0 {
		if c.jwt, err = jwt.New(cfg.Authn.JWT, jwt.Options{Logger: log, Registerer: reg}); err != nil {
			return nil, fmt.Errorf("authn.jwt: %w", err)
		}
	}
	if in := cfg.Authn.Introspection; in != nil {
		if c.introspect, err = introspect.New(*in, introspect.Options{Logger: log, Registerer: reg}); err != nil {
			return nil, fmt.Errorf("authn.introspection: %w", err)
		}
	}
	if c.budget, err = body.NewBudget(cfg.Limits, reg); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	c.apikeys = apikey.New(apikey.Options{Logger: log, Registerer: reg})
	if err := c.loadAPIKeys(); err != nil {
		return nil, err
	}
	c.engine.OnReload(func() {
		if err := c.loadAPIKeys(); err != nil {
			// The engine already activated the bundle; its consumers are
			// unusable, so no key authenticates until a good bundle arrives.
			c.apikeys.SetIndex(nil)
			c.log.Error().Err(err).Msg("api keys in the new bundle are invalid; api-key authentication is unavailable")
		}
	})
	if c.dlog, err = newDecisionLog(cfg, c.engine, log, reg, version); err != nil {
		return nil, fmt.Errorf("decision_log: %w", err)
	}
	if !c.dlog.Enabled() {
		log.Warn().Msg("decision_log has no sink (stdout: false and no file, http): decisions are not recorded")
	}
	c.dlogPath = strings.ReplaceAll(strings.TrimPrefix(cfg.Policy.Decision, "data."), ".", "/")
	return c, nil
}

func (c *components) loadAPIKeys() error {
	idx, err := c.apiKeyIndex()
	if err != nil {
		return err
	}
	c.apikeys.SetIndex(idx)
	return nil
}

// apiKeyIndex reads the consumers from the active bundle data.
func (c *components) apiKeyIndex() (*apikey.Index, error) {
	data, _ := c.engine.Data(c.cfg.Authn.APIKeys.DataPath)
	idx, err := apikey.NewIndex(data)
	if err != nil {
		return nil, fmt.Errorf("api keys at data.%s: %w", c.cfg.Authn.APIKeys.DataPath, err)
	}
	return idx, nil
}

func newDecisionLog(cfg *config.Config, eng *engine.Engine, log zerolog.Logger, reg prometheus.Registerer, version string) (*decisionlog.Logger, error) {
	d := cfg.DecisionLog
	o := decisionlog.Options{
		Version:     version,
		Labels:      d.Labels,
		Erase:       d.Erase,
		Masker:      eng,
		SampleAllow: *d.Sample.Allow,
		SampleDeny:  *d.Sample.Deny,
		Logger:      log,
		Registerer:  reg,
	}
	if *d.Stdout {
		o.Stdout = os.Stdout
	}
	if f := d.File; f != nil {
		o.File = &decisionlog.FileOptions{Path: f.Path, MaxSize: int64(f.MaxSize), MaxAge: f.MaxAge, MaxBackups: f.MaxBackups, Compress: f.Compress}
	}
	if sl := d.Syslog; sl != nil {
		o.Syslog = &decisionlog.SyslogOptions{Address: sl.Address, TLS: sl.TLS, CAFile: sl.CAFile}
	}
	if h := d.HTTP; h != nil {
		o.HTTP = &decisionlog.HTTPOptions{
			URL: h.URL, Format: h.Format, Gzip: h.Gzip,
			BatchEvents: h.BatchEvents, BatchBytes: int64(h.BatchBytes), FlushInterval: h.FlushInterval, Timeout: h.Timeout,
			BearerToken: h.BearerToken.Value(), Username: h.Username, Password: h.Password.Value(), CAFile: h.CAFile,
			QueueEvents: h.QueueEvents, MaxRetryDelay: h.MaxRetryDelay,
			SpoolDir: h.SpoolDir, SpoolMaxBytes: int64(h.SpoolMaxBytes), OnFull: h.OnFull,
			// config.Validate already allowed http only for a loopback
			// host or with allow_insecure_http.
			AllowInsecureHTTP: true,
		}
	}
	return decisionlog.New(o)
}

// inputExclude lists the headers that carry credentials or identities;
// they never enter the policy input or the decision log, in any spelling.
func (c *components) inputExclude() header.Set {
	return header.NewSet(append(append(authn.CredentialHeaders(c.cfg, &config.Route{}), authn.IdentityHeaders(c.cfg)...), "Proxy-Authorization")...)
}

// routeHandler builds the pipeline of one route:
// body guard (headers only) → authenticate → read or buffer body → validate (record) → authorize → enforce validation → proxy.
func (c *components) routeHandler(cfg *config.Config, rt *config.Route) (pipeline.Handler, error) {
	auths := authn.Authenticators{APIKey: c.apikeys}
	if c.jwt != nil {
		auths.JWT = c.jwt
	}
	if c.introspect != nil {
		auths.Introspection = c.introspect
	}
	if slices.Contains(rt.Authn.Methods, "api_key") {
		c.usesAPIKeys = true
	}
	authnMW, err := authn.New(cfg, rt, auths)
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	var validateMW pipeline.Middleware
	validating := rt.OpenAPI.Spec != "" && rt.OpenAPI.Mode != "off"
	// Bodies are read only after authentication, within the budget.
	readMW := c.budget.Buffer(rt.Limits)
	if validating || rt.Policy.InputBody {
		readMW = c.budget.Read(rt.Limits, true)
	}
	if validating {
		v, err := validate.New(rt, validate.Options{Logger: c.log, Registerer: c.reg})
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		c.validators = append(c.validators, v)
		validateMW = v.Middleware()
	}
	authzMW, err := authz.New(c.engine, rt)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	px, err := proxy.New(rt)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	return pipeline.Chain(px.Handler(),
		body.Guard(rt.Limits),
		authnMW,
		readMW,
		validateMW,
		authzMW,
		enforceValidation,
	), nil
}

// enforceValidation sends the validation problem of an allowed request.
func enforceValidation(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if st := pipeline.StateFrom(r.Context()); st.Rejection != nil {
			return st.Rejection
		}
		return next.ServeHTTP(w, r)
	})
}

// accepting fails closed when the decision log cannot take more events and
// is configured to refuse requests then.
func (c *components) accepting() error {
	if c.dlog != nil && !c.dlog.Accepting() {
		return problem.New(http.StatusServiceUnavailable, "decision_log_full", "the gateway cannot record decisions right now").
			WithHeader("Retry-After", "5")
	}
	return nil
}

// start launches background work: JWKS fetching and file watching.
func (c *components) start(ctx context.Context) {
	if c.jwt != nil {
		c.jwt.Start(ctx)
	}
	if !*c.cfg.Policy.Watch {
		return
	}
	var paths []string
	for _, b := range c.cfg.Policy.Bundles {
		paths = append(paths, b.Path)
	}
	c.watch(paths, "bundles", func() {
		if err := c.engine.Reload(context.Background()); err != nil {
			c.log.Error().Err(err).Msg("bundle reload failed; the running policy is kept")
		}
	})
	for _, v := range c.validators {
		v := v
		c.watch([]string{v.Spec()}, "openapi", func() {
			if err := v.Reload(); err != nil {
				c.log.Error().Err(err).Str("spec", v.Spec()).Msg("openapi reload failed; the running spec is kept")
			}
		})
	}
}

func (c *components) watch(paths []string, what string, onChange func()) {
	w, err := watch.New(watch.Options{Paths: paths, Debounce: c.cfg.Policy.Debounce, OnChange: onChange, Logger: c.log})
	if err != nil {
		c.log.Error().Err(err).Str("what", what).Msg("cannot watch files; reload with SIGHUP")
		return
	}
	c.watchers = append(c.watchers, w)
}

// close stops background work and flushes the decision log.
func (c *components) close(ctx context.Context) {
	for _, w := range c.watchers {
		_ = w.Close()
	}
	if c.jwt != nil {
		c.jwt.Stop()
	}
	if c.introspect != nil {
		c.introspect.Close()
	}
	if c.dlog != nil {
		if err := c.dlog.Close(ctx); err != nil {
			c.log.Error().Err(err).Msg("decision log not fully flushed")
		}
	}
}

// reload re-reads bundles and specs and reopens the decision-log file.
func (c *components) reload(ctx context.Context) error {
	var errs []error
	if err := c.engine.Reload(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, v := range c.validators {
		if err := v.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.Spec(), err))
		}
	}
	if err := c.dlog.Reopen(); err != nil {
		errs = append(errs, fmt.Errorf("decision log: %w", err))
	}
	return errors.Join(errs...)
}

// ready reports what is not yet usable: policy, keys.
func (c *components) ready() error {
	if !c.engine.Ready() {
		return errors.New("policy not loaded")
	}
	if c.jwt != nil {
		if err := c.jwt.Ready(); err != nil {
			return err
		}
	}
	if c.usesAPIKeys && !c.apikeys.Ready() {
		return errors.New("api keys: the active bundle's consumer data is invalid")
	}
	return nil
}

func (c *components) status() any {
	return map[string]any{"policy": c.engine.Status()}
}
