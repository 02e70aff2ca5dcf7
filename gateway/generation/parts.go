package generation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/decisionlog"
	"github.com/portcullis/portcullis/policy/engine"
)

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
		// The API keys are read by the gateway, never by a policy: held
		// raw, they skip OPA's store (~20x their JSON size).
		Hold: []string{cfg.Authn.APIKeys.DataPath, cfg.Authn.APIKeys.RevokedDataPath},
	}
	o.Sources = bundleSources(p.Bundles)
	if s := p.Signing; s != nil {
		o.Signing = &bundle.Signing{KeyFile: s.KeyFile, KeyID: s.KeyID, Algorithm: s.Algorithm, Scope: s.Scope}
	}
	return o
}

func bundleSources(bs []config.BundleSource) []bundle.Source {
	srcs := make([]bundle.Source, len(bs))
	for i, b := range bs {
		p := b.Path
		if b.URL != "" {
			p = b.File
		}
		srcs[i] = bundle.Source{Name: b.Name, Path: p}
	}
	return srcs
}

// apiKeyIndex reads the consumers from the held bundle data of eng,
// reusing what prev (nil for none) holds of unchanged files. The error
// names the bundles, because that is the file to fix.
func apiKeyIndex(cfg *config.Config, eng *engine.Engine, prev *apikey.Index) (*apikey.Index, error) {
	k := cfg.Authn.APIKeys
	idx, err := apikey.Update(prev, strings.Split(k.DataPath, "."), strings.Split(k.RevokedDataPath, "."), eng.TakeHeld())
	if err == nil {
		return idx, nil
	}
	paths := bundlePaths(cfg)
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = locateAPIKeyError(cfg, e)
		if out[i] == nil {
			out[i] = fmt.Errorf("policy.bundles %s: api keys at data.%s: %w", strings.Join(paths, ", "), cfg.Authn.APIKeys.DataPath, e)
		}
	}
	return nil, errors.Join(out...)
}

// bundlePaths are the paths of cfg's bundles, for errors in their data.
func bundlePaths(cfg *config.Config) []string {
	paths := make([]string, len(cfg.Policy.Bundles))
	for i, b := range cfg.Policy.Bundles {
		paths[i] = b.Path
	}
	return paths
}

// locateAPIKeyError names the data.json file and line of a problem in the
// consumer data, or returns nil when it cannot be found there (a tarball,
// data written elsewhere).
func locateAPIKeyError(cfg *config.Config, err error) error {
	dataPath, rel := cfg.Authn.APIKeys.DataPath, []any(nil)
	if de, ok := errors.AsType[*apikey.DataError](err); ok {
		rel = de.Path
	} else if re, ok := errors.AsType[*apikey.RevocationError](err); ok {
		dataPath, rel = cfg.Authn.APIKeys.RevokedDataPath, re.Path()
	} else {
		return nil
	}
	segs := strings.Split(dataPath, ".")
	path := make([]any, 0, len(segs)+len(rel))
	for _, seg := range segs {
		path = append(path, seg)
	}
	path = append(path, rel...)
	// The error's own path starts at the consumers object, the last segment.
	parent := "data."
	if len(segs) > 1 {
		parent += strings.Join(segs[:len(segs)-1], ".") + "."
	}
	for _, b := range cfg.Policy.Bundles {
		if file, line, ok := bundle.LocateValue(b.Path, path); ok {
			return fmt.Errorf("%s:%d: %s%w", file, line, parent, err)
		}
	}
	return nil
}

// newDecisionLog is the one place that translates the decision_log
// section for decisionlog.New. A sink of prev whose options are unchanged
// is kept, with its queue and spool; the Logger holds its sinks, so closing
// prev later closes only those no other Logger holds.
func newDecisionLog(cfg *config.Config, prev *decisionlog.Logger, masker decisionlog.Masker, log zerolog.Logger, reg prometheus.Registerer, version string) (_ *decisionlog.Logger, err error) {
	d := cfg.DecisionLog
	var want []decisionlog.SinkOptions
	if *d.Stdout {
		want = append(want, decisionlog.StdoutOptions{W: os.Stdout})
	}
	if f := d.File; f != nil {
		want = append(want, decisionlog.FileOptions{Path: f.Path, MaxSize: int64(f.MaxSize), MaxAge: f.MaxAge, MaxBackups: f.MaxBackups, Compress: f.Compress})
	}
	if sl := d.Syslog; sl != nil {
		want = append(want, decisionlog.SyslogOptions{Address: sl.Address, TLS: sl.TLS, CAFile: sl.CAFile, Timeout: decisionlog.SyslogTimeout})
	}
	if h := d.HTTP; h != nil {
		headers := make(map[string]string, len(h.Headers))
		for k, v := range h.Headers {
			headers[k] = v.Value()
		}
		var splunk decisionlog.SplunkOptions
		if s := h.Splunk; s != nil {
			splunk = decisionlog.SplunkOptions{Token: s.Token.Value(), Index: s.Index, Source: s.Source, Sourcetype: s.Sourcetype, Host: s.Host}
		}
		var index string
		if h.Elasticsearch != nil {
			index = h.Elasticsearch.Index
		}
		want = append(want, decisionlog.HTTPOptions{
			URL: h.URL, Format: h.Format, Gzip: h.Gzip,
			Headers: decisionlog.HeaderLines(headers), Splunk: splunk, ElasticIndex: index,
			BatchEvents: h.BatchEvents, BatchBytes: int64(h.BatchBytes), FlushInterval: h.FlushInterval, Timeout: h.Timeout,
			BearerToken: h.BearerToken.Value(), Username: h.Username, Password: h.Password.Value(), CAFile: h.CAFile,
			QueueEvents: h.QueueEvents, MaxRetryDelay: h.MaxRetryDelay,
			SpoolDir: h.SpoolDir, SpoolMaxBytes: int64(h.SpoolMaxBytes), OnFull: h.OnFull,
			// config.Validate already allowed http only for a loopback
			// host or with allow_insecure_http.
			AllowInsecureHTTP: true,
		})
	}
	var kept []decisionlog.Sink
	if prev != nil {
		kept = prev.Sinks()
	}
	var sinks, opened []decisionlog.Sink
	defer func() {
		if err != nil { // no Logger holds them
			for _, s := range opened {
				_ = s.Close(context.Background())
			}
		}
	}()
	env := decisionlog.Env{Logger: log, Registerer: reg}
next:
	for _, o := range want {
		for _, s := range kept {
			if s.Options() == o {
				sinks = append(sinks, s)
				continue next
			}
		}
		s, err := o.Open(env)
		if err != nil {
			return nil, err
		}
		sinks, opened = append(sinks, s), append(opened, s)
	}
	return decisionlog.New(decisionlog.Options{
		Version:     version,
		Labels:      d.Labels,
		Erase:       d.Erase,
		Masker:      masker,
		SampleAllow: *d.Sample.Allow,
		SampleDeny:  *d.Sample.Deny,
		Logger:      log,
		Registerer:  reg,
	}, sinks...)
}

// proxyKey is what a route's proxy is built from: the same key, the same
// upstreams with their connection pool and passive health state. A
// route's TLS settings and the digest of its certificate files are part
// of it: a rotated certificate gets a new transport, whose connections
// present it.
type proxyKey struct {
	route, upstreams, strip string
	timeout, ejectFor       time.Duration
	transport               transportKey
}

// transportKey is what a pool of upstream connections is built from.
type transportKey struct {
	connectTimeout time.Duration
	tls            config.UpstreamTLS
	tlsFiles       string
	hasTLS         bool
}

func (b *builder) proxy(rt *config.Route) (*proxy.Proxy, error) {
	tk := transportKey{connectTimeout: rt.ConnectTimeout}
	var t *proxy.TLS
	if rt.TLS != nil {
		var err error
		if t, err = proxy.LoadTLS(rt.TLS); err != nil {
			return nil, err
		}
		tk.tls, tk.tlsFiles, tk.hasTLS = *rt.TLS, t.Digest(), true
	}
	k := proxyKey{route: rt.Name, upstreams: strings.Join(append([]string{rt.Upstream}, rt.Upstreams...), " "), strip: rt.StripPrefix,
		timeout: rt.Timeout, ejectFor: rt.EjectFor, transport: tk}
	// The pool first: a carried-over proxy's is the running generation's,
	// which this one must hold too.
	tr, err := b.transport(tk, t)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	p := b.g.proxies[k]
	if p == nil && b.prev != nil {
		p = b.prev.proxies[k]
	}
	if p == nil {
		if p, err = proxy.New(rt, tr); err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
	}
	b.g.proxies[k] = p
	return p, nil
}

// transport returns the pool of tk and records it in this generation:
// this generation's, the running one's, or a new one.
func (b *builder) transport(tk transportKey, t *proxy.TLS) (*proxy.Transport, error) {
	tr := b.g.transports[tk]
	if tr == nil && b.prev != nil {
		tr = b.prev.transports[tk]
	}
	if tr == nil {
		var err error
		if tr, err = proxy.NewTransport(tk.connectTimeout, t); err != nil {
			return nil, err
		}
	}
	b.g.transports[tk] = tr
	return tr, nil
}

// equal compares settings, secrets included (config.Secret's value is
// unexported; reflect sees it).
func equal[T any](a, b T) bool { return reflect.DeepEqual(a, b) }

// keyFilesDigest is a digest of the key files of every issuer: a rotated
// key file must build a new authenticator even with its path unchanged.
func keyFilesDigest(c config.JWT) string {
	var paths []string
	for _, is := range c.Issuers {
		paths = append(paths, is.Keys...)
	}
	return filesDigest(paths, false)
}

// filesDigest is a digest of the content of paths, and with modTime of
// their modification times. An unreadable file digests as its error, and
// the part that reads it reports it.
func filesDigest(paths []string, modTime bool) string {
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			b = []byte(err.Error())
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		if st, err := os.Stat(p); modTime && err == nil {
			fmt.Fprintf(h, "\x00%d", st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Files lists every file cfg names that a generation reads: the
// configuration itself, bundles (shadow bundles too), OpenAPI specs, key files, the TLS
// certificate and key, the client CA file, file: secrets, CA files, the assertion signing keys and
// the routes' upstream TLS files. A change to any of them
// builds a new generation.
func Files(cfg *config.Config) []string {
	var fs []string
	add := func(p ...string) {
		for _, s := range p {
			if s != "" {
				fs = append(fs, s)
			}
		}
	}
	secret := func(s config.Secret) {
		if f, ok := strings.CutPrefix(s.From, "file:"); ok {
			add(f)
		}
	}
	add(cfg.File, cfg.Listen.TLSCertFile, cfg.Listen.TLSKeyFile, cfg.Listen.TLSClientCAFile)
	for _, b := range cfg.Policy.Bundles {
		add(b.Path) // a url bundle's download is activated by its fetcher
	}
	add(shadowFiles(cfg)...)
	if s := cfg.Policy.Signing; s != nil {
		add(s.KeyFile)
	}
	for _, is := range cfg.Authn.JWT.Issuers {
		add(is.Keys...)
		secret(is.Secret)
	}
	if in := cfg.Authn.Introspection; in != nil {
		secret(in.ClientSecret)
	}
	if h := cfg.DecisionLog.HTTP; h != nil {
		add(h.CAFile)
		secret(h.BearerToken)
		secret(h.Password)
	}
	if s := cfg.DecisionLog.Syslog; s != nil {
		add(s.CAFile)
	}
	if r := cfg.RateLimit.Redis; r != nil {
		add(r.PasswordFile)
	}
	if ia := cfg.IdentityAssertion; ia != nil {
		for _, k := range ia.Keys {
			add(k.File)
		}
	}
	for _, rt := range cfg.Routes {
		add(rt.OpenAPI.Spec)
		if t := rt.TLS; t != nil {
			add(t.CAFile, t.CertFile, t.KeyFile)
		}
	}
	return dedupe(fs)
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
