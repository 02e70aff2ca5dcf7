// Package generation builds, from one configuration and the files it names,
// an immutable generation of the gateway: routes and their pipelines, the
// compiled policy, the API-key index of that policy's data, the OpenAPI
// validators, the TLS certificate and the decision log. Everything is
// built and validated before the generation exists, so the server swaps
// whole generations or nothing (Caddy's provision → validate → swap →
// clean up; OPA's all-or-nothing bundle activation).
package generation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/gateway/authn/clientcert"
	"github.com/portcullis/portcullis/gateway/authn/introspect"
	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/ratelimit"
	"github.com/portcullis/portcullis/gateway/ratelimit/redis"
	"github.com/portcullis/portcullis/gateway/route"
	"github.com/portcullis/portcullis/gateway/validate"
	"github.com/portcullis/portcullis/policy/decisionlog"
	"github.com/portcullis/portcullis/policy/engine"
	"github.com/portcullis/portcullis/policy/shadow"
)

// Options are what Build needs besides the configuration.
type Options struct {
	Logger zerolog.Logger
	// Registerer receives the components' metrics; they are registered
	// idempotently, so every generation counts into the same series.
	Registerer prometheus.Registerer
	// Version labels decision-log events.
	Version string
	// Masker masks decision-log events. The server passes one that asks
	// the generation live at the time, because a carried-over decision log
	// outlives the generation that opened it. Nil: this generation's engine.
	Masker decisionlog.Masker
	// Check builds everything without opening the decision log's sinks
	// (files, connections): portcullis check.
	Check bool
	// Tracing wraps the stages in spans (gateway/tracing); without it the
	// chains are exactly as they would be without tracing.
	Tracing bool
}

// Generation is one complete, immutable version of the gateway. A request
// holds one generation from start to finish (Hold, Release).
type Generation struct {
	// Number counts the generations of a process, from 1.
	Number uint64
	// Config is the configuration it was built from.
	Config *config.Config
	// BuiltAt is when Build finished.
	BuiltAt time.Time

	Router  *route.Router[pipeline.Handler]
	Headers *header.Cleaner
	Engine  *engine.Engine
	// DecisionPath is the decision rule as a path, for decision-log events.
	DecisionPath string
	// Input builds the policy input of each request.
	Input *input.Builder
	// LogHeaders are the request headers copied into decision-log events.
	LogHeaders []string
	// Certificate is the proxy listener's TLS certificate; nil without TLS.
	Certificate *tls.Certificate
	// ClientCAs verify client certificates (listen.tls_client_ca_file) and
	// ClientAuth says when one is asked for; nil and tls.NoClientCert
	// without the CA file.
	ClientCAs  *x509.CertPool
	ClientAuth tls.ClientAuthType
	// Pending are the url bundles not downloaded yet (none persisted): the
	// generation is not ready and refuses every request.
	Pending []string

	parts
	apikeys     *apikey.Authenticator
	clientCerts *clientcert.Authenticator // nil without listen.tls_client_ca_file

	refs     atomic.Int64
	retiring atomic.Bool
	drained  chan struct{}
}

// parts are the long-lived components a generation hands on to the next
// when their settings are unchanged, so a reload neither cold-starts
// caches nor drops queued events.
type parts struct {
	// DecisionLog records one event per request.
	DecisionLog *decisionlog.Logger
	dlogKey     config.DecisionLog
	// Shadow evaluates policy.shadow's candidate bundles; nil without
	// them. It is never carried over (its engine is this generation's),
	// but its counts are when the candidate is unchanged.
	Shadow *shadow.Evaluator

	jwt        *jwt.Authenticator
	jwtKey     jwtSettings
	introspect *introspect.Client
	introKey   config.Introspection
	budget     *body.Budget
	proxies    map[proxyKey]*proxy.Proxy
	transports map[transportKey]*proxy.Transport
	assertKeys *assertion.Keys
	assertKey  assertionSettings
	// limitStore keeps the rate-limit counters across reloads;
	// limitRedis is its Redis connection, nil without rate_limit.redis.
	limitStore ratelimit.Store
	limitRedis *redis.Store
	limitKey   limitStoreSettings
	// keyIndex is the API-key index, from which the next one is diffed.
	keyIndex *apikey.Index
}

// Build makes a generation from cfg. prev, when not nil, is the running
// generation whose long-lived parts are reused where their settings are
// unchanged. Every problem found is returned, joined, in a fixed order;
// nothing is started (see Start) and prev is never changed.
func Build(ctx context.Context, cfg *config.Config, prev *Generation, opts Options) (*Generation, error) {
	b := &builder{cfg: cfg, opts: opts, g: &Generation{Config: cfg, drained: make(chan struct{}, 1)}}
	if prev != nil {
		b.prev = &prev.parts
		b.g.Number = prev.Number
	}
	b.g.Number++
	b.build(ctx)
	if err := errors.Join(b.errs...); err != nil {
		b.discard(ctx)
		return nil, err
	}
	b.g.BuiltAt = time.Now()
	return b.g, nil
}

// Check builds a generation from cfg as run would and returns every
// problem; nothing is started and no server is contacted.
func Check(ctx context.Context, cfg *config.Config) []error {
	b := &builder{cfg: cfg, opts: Options{Logger: zerolog.Nop(), Check: true}, g: &Generation{Config: cfg}}
	b.build(ctx)
	b.discard(ctx)
	return b.errs
}

// Start launches the generation's background work (JWKS fetching); parts
// carried over are already running and are left as they are.
func (g *Generation) Start(ctx context.Context) {
	if g.jwt != nil {
		g.jwt.Start(ctx)
	}
	if g.Shadow != nil {
		g.Shadow.Start()
	}
}

// Hold marks a request as using g; Release ends it. A retiring generation
// closes its parts only when the last holder released it.
func (g *Generation) Hold() { g.refs.Add(1) }

// Release ends a Hold.
func (g *Generation) Release() {
	if g.refs.Add(-1) == 0 && g.retiring.Load() {
		select {
		case g.drained <- struct{}{}:
		default:
		}
	}
}

// Retire waits until no request holds g (or ctx ends: a long-lived
// connection such as a WebSocket must not keep old parts forever), then
// closes the parts of g that next does not carry on. next nil closes all.
// The caller must have published next before, so no new request holds g.
func (g *Generation) Retire(ctx context.Context, next *Generation, log zerolog.Logger) {
	g.retiring.Store(true)
	if g.refs.Load() > 0 {
		select {
		case <-g.drained:
		case <-ctx.Done():
		}
	}
	var keep parts
	if next != nil {
		keep = next.parts
	}
	if err := g.parts.closeExcept(ctx, &keep); err != nil {
		log.Error().Err(err).Uint64("generation", g.Number).Msg("decision log of a retired generation not fully flushed")
	}
}

// Ready reports what is not yet usable: JWKS keys not fetched yet.
func (g *Generation) Ready() error {
	if len(g.Pending) > 0 {
		return fmt.Errorf("bundles not downloaded yet: %s", strings.Join(g.Pending, ", "))
	}
	if g.jwt != nil {
		return g.jwt.Ready()
	}
	return nil
}

// Accepting fails closed while a url bundle was never downloaded, and when
// the decision log cannot take more events and is configured to refuse
// requests then.
func (g *Generation) Accepting() error {
	if g.Pending != nil {
		return problem.New(http.StatusServiceUnavailable, "policy_unavailable", "the gateway has no policy yet").
			WithHeader("Retry-After", "5")
	}
	if g.DecisionLog != nil && !g.DecisionLog.Accepting() {
		return problem.New(http.StatusServiceUnavailable, "decision_log_full", "the gateway cannot record decisions right now").
			WithHeader("Retry-After", "5")
	}
	return nil
}

// closeExcept closes every part of p that keep does not hold too; the
// decision log is flushed within ctx.
func (p *parts) closeExcept(ctx context.Context, keep *parts) error {
	if p.jwt != nil && p.jwt != keep.jwt {
		p.jwt.StopExcept(keep.jwt)
	}
	if p.introspect != nil && p.introspect != keep.introspect {
		p.introspect.Close()
	}
	for k, tr := range p.transports {
		if keep.transports[k] != tr {
			tr.CloseIdleConnections()
		}
	}
	if p.limitRedis != nil && p.limitRedis != keep.limitRedis {
		_ = p.limitRedis.Close()
	}
	if p.Shadow != nil && p.Shadow != keep.Shadow {
		p.Shadow.Close(ctx) // before the decision log: it writes there
	}
	if p.DecisionLog != nil && p.DecisionLog != keep.DecisionLog {
		return p.DecisionLog.Close(ctx)
	}
	return nil
}

// Close stops everything g holds, the decision log included (flushed within ctx).
func (g *Generation) Close(ctx context.Context) error {
	return g.parts.closeExcept(ctx, &parts{})
}

// builder collects the problems of one Build.
type builder struct {
	cfg  *config.Config
	opts Options
	prev *parts
	g    *Generation
	errs []error
	// limits are the generation's rate limits, over the carried store.
	limits *ratelimit.Limits
	// identity is authn.IdentityHeaders of cfg, shared by every route.
	identity header.Set
}

func (b *builder) fail(err error) { b.errs = append(b.errs, err) }

// discard closes what a failed or check-only build opened, and nothing it
// borrowed from prev.
func (b *builder) discard(ctx context.Context) {
	keep := &parts{}
	if b.prev != nil {
		keep = b.prev
	}
	_ = b.g.parts.closeExcept(ctx, keep)
}

func (b *builder) build(ctx context.Context) {
	cfg, o := b.cfg, b.opts
	g := b.g
	var err error
	eo := EngineOptions(cfg, o.Registerer, o.Logger)
	cleanup := b.closeUntilDownloaded(&eo)
	if g.Engine, err = engine.New(ctx, eo); err != nil {
		b.fail(fmt.Errorf("policy: %w", err))
	}
	cleanup()
	shadowEngine := b.buildShadowEngine(ctx)
	b.buildJWT()
	b.buildIntrospection()
	b.buildBudget()
	b.buildAssertionKeys()
	b.buildLimits()
	g.apikeys = apikey.New(apikey.Options{Logger: o.Logger, Registerer: o.Registerer})
	if g.Engine != nil {
		var prev *apikey.Index
		if b.prev != nil {
			prev = b.prev.keyIndex
		}
		if idx, err := apiKeyIndex(cfg, g.Engine, prev); err != nil {
			b.fail(err)
		} else {
			g.apikeys.SetIndex(idx)
			g.keyIndex = idx
		}
	}
	if l := cfg.Listen; l.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(l.TLSCertFile, l.TLSKeyFile)
		if err != nil {
			b.fail(fmt.Errorf("listen.tls_cert_file %s, listen.tls_key_file %s: %w", l.TLSCertFile, l.TLSKeyFile, err))
		} else {
			g.Certificate = &cert
		}
	}
	b.buildClientCerts()
	if g.Headers, err = header.New(cfg, o.Registerer); err != nil {
		b.fail(fmt.Errorf("request headers: %w", err))
	}
	// Credentials and identities never enter the policy input or the log.
	exclude := header.NewSet(append(append(authn.CredentialHeaders(cfg, &config.Route{}), authn.IdentityHeaders(cfg)...), "Proxy-Authorization")...)
	credQuery := make(map[*config.Route][]string, len(cfg.Routes))
	for i := range cfg.Routes {
		credQuery[&cfg.Routes[i]] = authn.CredentialQuery(cfg, &cfg.Routes[i])
	}
	g.Input = input.New(input.Options{Exclude: exclude, Secret: authn.NewSecretQuery(cfg.Request.SecretQueryParams).Is, CredentialQuery: credQuery})
	for _, h := range cfg.DecisionLog.Headers {
		if !exclude.Has(h) {
			g.LogHeaders = append(g.LogHeaders, h)
		}
	}
	g.DecisionPath = strings.ReplaceAll(strings.TrimPrefix(cfg.Policy.Decision, "data."), ".", "/")
	b.buildRoutes()
	if len(b.errs) == 0 && !o.Check {
		b.buildDecisionLog()
	}
	b.buildShadow(shadowEngine)
}

// jwtSettings decide whether a JWT authenticator can be carried over: the
// configuration and the content of every key file it reads.
type jwtSettings struct {
	cfg   config.JWT
	files string
}

func (b *builder) buildJWT() {
	c := b.cfg.Authn.JWT
	if len(c.Issuers) == 0 {
		return
	}
	key := jwtSettings{cfg: c, files: keyFilesDigest(c)}
	if p := b.prev; p != nil && p.jwt != nil && equal(p.jwtKey, key) {
		b.g.jwt, b.g.jwtKey = p.jwt, p.jwtKey
		return
	}
	o := jwt.Options{Logger: b.opts.Logger, Registerer: b.opts.Registerer}
	if b.prev != nil {
		o.Previous = b.prev.jwt // unchanged issuers keep their key sets
	}
	a, err := jwt.New(c, o)
	if err != nil {
		b.fail(fmt.Errorf("authn.jwt: %w", err))
		return
	}
	b.g.jwt, b.g.jwtKey = a, key
}

// assertionSettings decide whether the signing keys can be carried over:
// the section and the content and time of every key file (a key without
// not_before starts signing after its file's time).
type assertionSettings struct {
	cfg   config.IdentityAssertion
	files string
}

func (b *builder) buildAssertionKeys() {
	ia := b.cfg.IdentityAssertion
	if ia == nil {
		return
	}
	paths := make([]string, len(ia.Keys))
	for i, k := range ia.Keys {
		paths[i] = k.File
	}
	key := assertionSettings{cfg: *ia, files: filesDigest(paths, true)}
	if p := b.prev; p != nil && p.assertKeys != nil && equal(p.assertKey, key) {
		b.g.assertKeys, b.g.assertKey = p.assertKeys, p.assertKey
		return
	}
	ks, err := assertion.Load(ia)
	if err != nil {
		b.fail(fmt.Errorf("identity_assertion: %w", err))
		return
	}
	b.g.assertKeys, b.g.assertKey = ks, key
}

// JWKS is the public part of the assertion signing keys, as a JSON Web
// Key Set; nil when no identity_assertion section is configured.
func (g *Generation) JWKS() []byte {
	if g.assertKeys == nil {
		return nil
	}
	return g.assertKeys.JWKS()
}

func (b *builder) buildIntrospection() {
	in := b.cfg.Authn.Introspection
	if in == nil {
		return
	}
	if p := b.prev; p != nil && p.introspect != nil && equal(p.introKey, *in) {
		b.g.introspect, b.g.introKey = p.introspect, p.introKey
		return
	}
	c, err := introspect.New(*in, introspect.Options{Logger: b.opts.Logger, Registerer: b.opts.Registerer})
	if err != nil {
		b.fail(fmt.Errorf("authn.introspection: %w", err))
		return
	}
	b.g.introspect, b.g.introKey = c, *in
}

// buildBudget carries the body budget over always: its two sizes need a
// restart (see the server's restart list), and its reservations must
// outlive the generation a request started on.
func (b *builder) buildBudget() {
	if p := b.prev; p != nil && p.budget != nil {
		b.g.budget = p.budget
		return
	}
	budget, err := body.NewBudget(b.cfg.Limits, b.opts.Registerer)
	if err != nil {
		b.fail(fmt.Errorf("limits: %w", err))
		return
	}
	b.g.budget = budget
}

// buildDecisionLog reuses the running decision log when its settings are
// unchanged (its queue and connections survive the reload); the headers
// it copies are the generation's, the mask and drop rules the engine's.
// When they changed, the new log keeps every sink whose own options did
// not.
func (b *builder) buildDecisionLog() {
	key := b.cfg.DecisionLog
	key.Headers, key.MaskRule, key.DropRule = nil, "", ""
	if p := b.prev; p != nil && p.DecisionLog != nil && equal(p.dlogKey, key) {
		b.g.DecisionLog, b.g.dlogKey = p.DecisionLog, key
		return
	}
	masker := b.opts.Masker
	if masker == nil {
		masker = b.g.Engine
	}
	var prev *decisionlog.Logger
	if b.prev != nil {
		prev = b.prev.DecisionLog
	}
	l, err := newDecisionLog(b.cfg, prev, masker, b.opts.Logger, b.opts.Registerer, b.opts.Version)
	if err != nil {
		b.fail(fmt.Errorf("decision_log: %w", err))
		return
	}
	if !l.Enabled() {
		b.opts.Logger.Warn().Msg("decision_log has no sink (stdout: false and no file, http): decisions are not recorded")
	}
	b.g.DecisionLog, b.g.dlogKey = l, key
}

func (b *builder) buildRoutes() {
	cfg := b.cfg
	handlers := make([]pipeline.Handler, len(cfg.Routes))
	b.g.proxies = make(map[proxyKey]*proxy.Proxy, len(cfg.Routes))
	b.g.transports = map[transportKey]*proxy.Transport{}
	b.identity = header.NewSet(authn.IdentityHeaders(cfg)...)
	for i := range cfg.Routes {
		rt := &cfg.Routes[i]
		h, err := b.routeHandler(rt)
		if err != nil {
			b.fail(fmt.Errorf("routes[%d] %q: %w", i, rt.Name, err))
			continue
		}
		handlers[i] = h
	}
	if len(b.errs) > 0 { // a route without a handler cannot be routed to
		return
	}
	var err error
	if b.g.Router, err = route.NewRouter(cfg.Routes, handlers); err != nil {
		b.fail(err)
	}
}

// routeHandler builds the pipeline of one route:
// body guard (headers only) → authenticate → read or buffer body → validate (record) → authorize → enforce validation → assertion → proxy.
func (b *builder) routeHandler(rt *config.Route) (pipeline.Handler, error) {
	g := b.g
	auths := authn.Authenticators{APIKey: g.apikeys, ClientCert: g.clientCerts, Identity: b.identity}
	if g.jwt != nil {
		auths.JWT = g.jwt
	}
	if g.introspect != nil {
		auths.Introspection = g.introspect
	}
	var errs []error
	authnMW, err := authn.New(b.cfg, rt, auths)
	if err != nil {
		errs = append(errs, fmt.Errorf("authn: %w", err))
	}
	var validateMW pipeline.Middleware
	validating := rt.OpenAPI.Spec != "" && rt.OpenAPI.Mode != "off"
	if validating {
		v, err := validate.New(rt, validate.Options{Logger: b.opts.Logger, Registerer: b.opts.Registerer})
		if err != nil {
			errs = append(errs, fmt.Errorf("openapi: %w", err))
		} else {
			validateMW = v.Middleware()
		}
	}
	var authzMW pipeline.Middleware
	if g.Engine != nil {
		if authzMW, err = authz.New(g.Engine, rt); err != nil {
			errs = append(errs, fmt.Errorf("policy: %w", err))
		}
	}
	var assertMW pipeline.Middleware
	if a := rt.IdentityAssertion; a != nil && g.assertKeys != nil {
		s, err := assertion.New(g.assertKeys, a)
		if err != nil {
			errs = append(errs, err)
		} else {
			assertMW = s.Middleware
		}
	}
	var throttleMW, limitMW pipeline.Middleware
	if b.limits != nil {
		throttleMW = b.limits.Throttle(rt)
		if limitMW, err = b.limits.Stage(rt); err != nil {
			errs = append(errs, fmt.Errorf("rate_limits: %w", err))
		}
	}
	if len(errs) > 0 || g.budget == nil || g.Engine == nil || b.limits == nil {
		return nil, errors.Join(errs...)
	}
	// Bodies are read only after authentication, within the budget.
	readMW := g.budget.Buffer(rt.Limits)
	if validating || rt.Policy.InputBody {
		readMW = g.budget.Read(rt.Limits, true)
	}
	px, err := b.proxy(rt)
	if err != nil {
		return nil, err
	}
	ipMW, corsMW, err := edgeStages(rt)
	if err != nil {
		return nil, err
	}
	return buildChain(routeStages{ipfilter: ipMW, cors: corsMW, guard: body.Guard(rt.Limits), throttle: throttleMW, authn: authnMW, limit: limitMW,
		body: readMW, validate: validateMW, authz: authzMW, assert: assertMW, inputBody: rt.Policy.InputBody, proxy: px.Handler(), traced: b.opts.Tracing})
}
