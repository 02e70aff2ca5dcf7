// Package kong reads Kong declarative configuration (_format_version 3.0)
// into a migration plan.
package kong

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/migrate"
)

// scope is where a plugin is attached.
type scope int

const (
	global scope = iota
	onService
	onRoute
	onConsumer
)

// plugin is one plugin entry of the input.
type plugin struct {
	name   string
	scope  scope
	target string // service, route or consumer name
	obj    *migrate.Obj
	cfg    *migrate.Obj
	// apply is what the plugin does to a route, set by compile.
	apply func(*migrate.Route)
}

type service struct {
	name      string
	obj       *migrate.Obj
	upstreams []string
}

type route struct {
	name    string
	service string
	obj     *migrate.Obj
}

// importer holds the input while it is read.
type importer struct {
	plan      *migrate.Plan
	services  []*service
	routes    []*route
	plugins   []*plugin
	consumers []*migrate.Obj
	upstreams map[string][]string
	// credentials given at the top level, by consumer name.
	topCreds map[string][]*migrate.Obj
	// secretBase64 is the jwt plugin's secret_is_base64.
	secretBase64 bool
}

// Import reads the Kong declarative files. It fails only when an input is
// not YAML or not a Kong declarative configuration; everything else that
// does not map is in the plan's report.
func Import(inputs []migrate.Input) (*migrate.Plan, error) {
	im := &importer{plan: &migrate.Plan{Source: "kong"}, upstreams: map[string][]string{}, topCreds: map[string][]*migrate.Obj{}}
	docs, err := im.plan.Documents(inputs)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if err := im.file(d); err != nil {
			return nil, err
		}
	}
	im.build()
	return im.plan, nil
}

func (im *importer) report(o *migrate.Obj, key, what string, out migrate.Outcome, format string, a ...any) {
	im.plan.Report.Add(o.File, o.LineOf(key), what, out, format, a...)
}

func (im *importer) file(root *migrate.Obj) error {
	if root.Node == nil {
		return fmt.Errorf("%s: not a YAML mapping (want Kong declarative configuration)", root.File)
	}
	switch v := root.Str("_format_version"); v {
	case "3.0":
	case "":
		if !root.Has("services") && !root.Has("plugins") && !root.Has("consumers") && !root.Has("routes") {
			return fmt.Errorf("%s: no _format_version, services, routes, plugins or consumers: not Kong declarative configuration", root.File)
		}
		im.report(root, "", "_format_version", migrate.Partial, "absent: read as format 3.0")
	default:
		im.report(root, "_format_version", "_format_version", migrate.Partial, "%q read as 3.0", v)
	}
	root.Use("_transform", "_comment", "_workspace", "_info")
	for _, u := range root.List("upstreams") {
		name := u.Str("name")
		for _, t := range u.List("targets") {
			if tg := t.Str("target"); tg != "" {
				im.upstreams[name] = append(im.upstreams[name], tg)
			}
			t.Use("weight", "tags", "id")
			t.Rest(&im.plan.Report, "upstreams."+name+".targets")
		}
		im.report(u, "", "upstreams."+name, migrate.Partial, "targets become the routes' upstreams (round robin); algorithm, health checks and weights are not imported")
		u.Use("algorithm", "healthchecks", "slots", "hash_on", "hash_fallback", "tags", "id", "hash_on_header", "hash_on_cookie", "hash_on_cookie_path", "hash_on_query_arg", "hash_on_uri_capture")
		u.Rest(&im.plan.Report, "upstreams."+name)
	}
	for i, s := range root.List("services") {
		im.service(s, i)
	}
	for _, r := range root.List("routes") {
		im.route(r, refName(r, "service"))
	}
	for _, c := range root.List("consumers") {
		im.consumers = append(im.consumers, c)
	}
	for _, p := range root.List("plugins") {
		sc, target := global, ""
		switch {
		case p.Has("route"):
			sc, target = onRoute, refName(p, "route")
		case p.Has("service"):
			sc, target = onService, refName(p, "service")
		case p.Has("consumer"):
			sc, target = onConsumer, refName(p, "consumer")
		}
		im.addPlugin(p, sc, target)
	}
	for _, kind := range []string{"jwt_secrets", "keyauth_credentials", "acls"} {
		for _, c := range root.List(kind) {
			name := refName(c, "consumer")
			im.topCreds[kind+"/"+name] = append(im.topCreds[kind+"/"+name], c)
		}
	}
	root.Rest(&im.plan.Report, "")
	return nil
}

// refName reads a reference to another entity: a name or {name: ...} / {id: ...}.
func refName(o *migrate.Obj, key string) string {
	if s := o.Str(key); s != "" {
		return s
	}
	ref := o.Obj(key)
	if n := ref.Str("name"); n != "" {
		return n
	}
	return ref.Str("id")
}

func (im *importer) service(s *migrate.Obj, i int) {
	name := s.Str("name")
	if name == "" {
		name = fmt.Sprintf("service-%d", i+1)
	}
	svc := &service{name: name, obj: s}
	u := s.Str("url")
	if u == "" {
		proto, host, port, path := s.Str("protocol"), s.Str("host"), s.Str("port"), s.Str("path")
		if proto == "" {
			proto = "http"
		}
		if port == "" {
			port = map[string]string{"https": "443"}[proto]
			if port == "" {
				port = "80"
			}
		}
		u = fmt.Sprintf("%s://%s:%s%s", proto, host, port, path)
	}
	pu, err := url.Parse(u)
	switch {
	case err != nil || pu.Host == "":
		im.report(s, "url", "services."+name+".url", migrate.NotMapped, "%q is not an absolute URL", u)
	case pu.Path != "" && pu.Path != "/":
		im.report(s, "url", "services."+name+".url", migrate.NotMapped, "the service path %q is not prefixed to upstream requests by Portcullis", pu.Path)
		pu.Path = ""
		svc.upstreams = []string{pu.String()}
	default:
		pu.Path = ""
		if targets, ok := im.upstreams[pu.Hostname()]; ok {
			for _, t := range targets {
				svc.upstreams = append(svc.upstreams, pu.Scheme+"://"+t)
			}
		} else {
			svc.upstreams = []string{pu.String()}
		}
		im.report(s, "url", "services."+name, migrate.Mapped, "upstream of its routes: %s", strings.Join(svc.upstreams, ", "))
	}
	for _, k := range []string{"connect_timeout", "read_timeout", "write_timeout", "retries"} {
		if s.Has(k) {
			im.report(s, k, "services."+name+"."+k, migrate.Partial, "not imported: Portcullis's route timeouts keep their defaults")
		}
		s.Use(k)
	}
	s.Use("tags", "id", "enabled")
	im.services = append(im.services, svc)
	for _, r := range s.List("routes") {
		im.route(r, name)
	}
	for _, p := range s.List("plugins") {
		im.addPlugin(p, onService, name)
	}
	s.Rest(&im.plan.Report, "services."+name)
}

func (im *importer) route(r *migrate.Obj, svc string) {
	name := r.Str("name")
	if name == "" {
		name = svc + "-route"
	}
	name = migrate.UniqueName(name, func(n string) bool {
		return slices.ContainsFunc(im.routes, func(x *route) bool { return x.name == n })
	})
	im.routes = append(im.routes, &route{name: name, service: svc, obj: r})
	for _, p := range r.List("plugins") {
		im.addPlugin(p, onRoute, name)
	}
}

func (im *importer) addPlugin(p *migrate.Obj, sc scope, target string) {
	name := p.Str("name")
	pl := &plugin{name: name, scope: sc, target: target, obj: p, cfg: p.Obj("config")}
	p.Use("route", "service", "consumer", "tags", "id", "protocols", "instance_name", "ordering")
	if !p.Bool("enabled", true) {
		im.report(p, "enabled", "plugins."+name, migrate.Mapped, "disabled in the input: not imported")
		return
	}
	for _, q := range im.plugins {
		if q.name == name && q.scope == sc && q.target == target {
			im.report(p, "name", "plugins."+name, migrate.NotMapped, "a second %s plugin on the same %s (Kong refuses it); the one at line %d is used", name, scopeName(sc, target), q.obj.Line())
			return
		}
	}
	if sc == onConsumer {
		im.report(p, "name", "plugins."+name, migrate.NotMapped, "consumer-scoped plugins have no Portcullis equivalent (consumer %q)", target)
		return
	}
	im.plugins = append(im.plugins, pl)
}

func scopeName(sc scope, target string) string {
	switch sc {
	case onService:
		return "service " + target
	case onRoute:
		return "route " + target
	case onConsumer:
		return "consumer " + target
	}
	return "global scope"
}

// build turns what was read into the plan: plugins first (they decide how
// credentials are read), then consumers, then routes.
func (im *importer) build() {
	for _, pl := range im.plugins {
		im.compile(pl)
		pl.obj.Rest(&im.plan.Report, "plugins."+pl.name)
	}
	for i, c := range im.consumers {
		im.consumer(c, i)
	}
	for _, r := range im.routes {
		im.buildRoute(r)
	}
	for _, pl := range im.plugins {
		if pl.scope == onService && !slices.ContainsFunc(im.services, func(s *service) bool { return s.name == pl.target }) {
			im.report(pl.obj, "service", "plugins."+pl.name, migrate.NotMapped, "service %q is not in the input", pl.target)
		}
		if pl.scope == onRoute && !slices.ContainsFunc(im.routes, func(r *route) bool { return r.name == pl.target }) {
			im.report(pl.obj, "route", "plugins."+pl.name, migrate.NotMapped, "route %q is not in the input", pl.target)
		}
	}
}

func (im *importer) buildRoute(r *route) {
	o := r.obj
	var svc *service
	for _, s := range im.services {
		if s.name == r.service {
			svc = s
		}
	}
	what := "routes." + r.name
	if svc == nil || len(svc.upstreams) == 0 {
		im.report(o, "", what, migrate.NotMapped, "service %q is not in the input or has no usable upstream", r.service)
		return
	}
	base := migrate.Route{File: o.File, Line: o.Line(), Methods: o.Strs("methods"), Hosts: o.Strs("hosts"), Upstreams: svc.upstreams}
	// Kong's plugin precedence: a route's plugin replaces the service's of
	// the same name, which replaces the global one.
	effective := map[string]*plugin{}
	for _, sc := range []scope{global, onService, onRoute} {
		for _, pl := range im.plugins {
			if pl.scope == sc && (sc == global || sc == onService && pl.target == r.service || sc == onRoute && pl.target == r.name) {
				effective[pl.name] = pl
			}
		}
	}
	names := make([]string, 0, len(effective))
	for n := range effective {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if pl := effective[n]; pl.apply != nil {
			pl.apply(&base)
		}
	}
	if slices.Contains(base.Authn, "jwt") && slices.Contains(base.Authn, "api_key") {
		im.report(o, "", what, migrate.Partial, "Kong required every authentication plugin of the route to pass (no anonymous set); Portcullis accepts any one of jwt, api_key")
	}
	strip := o.Bool("strip_path", true)
	paths := o.Strs("paths")
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	o.Use("protocols", "tags", "id", "regex_priority", "path_handling", "request_buffering", "response_buffering", "https_redirect_status_code", "preserve_host", "name", "service", "plugins")
	var made []string
	for i, p := range paths {
		if strings.HasPrefix(p, "~") {
			im.report(o, "paths", what+".paths", migrate.NotMapped, "regular-expression path %q: Portcullis matches prefixes and templates", p)
			continue
		}
		rt := base
		rt.Name = r.name
		if len(paths) > 1 {
			rt.Name = fmt.Sprintf("%s-%d", r.name, i+1)
		}
		rt.PathPrefix = p
		if strip && p != "/" {
			rt.StripPrefix = strings.TrimRight(p, "/")
		}
		im.plan.Routes = append(im.plan.Routes, rt)
		made = append(made, rt.Name)
	}
	if len(made) > 0 {
		detail := fmt.Sprintf("route %s: path_prefix %s", strings.Join(made, ", "), strings.Join(paths, ", "))
		if strip {
			detail += "; strip_path (Kong's default is true) became strip_prefix"
		}
		if len(base.Hosts) > 1 {
			detail += "; one Portcullis route per host"
		}
		im.report(o, "", what, migrate.Mapped, "%s", detail)
	}
	o.Rest(&im.plan.Report, what)
}

func (im *importer) consumer(c *migrate.Obj, i int) {
	name := c.Str("username")
	if name == "" {
		name = c.Str("custom_id")
	}
	if name == "" {
		name = fmt.Sprintf("consumer-%d", i+1)
	}
	what := "consumers." + name
	cons := im.plan.Consumer(name)
	c.Use("custom_id", "tags", "id")
	acls := append(c.List("acls"), im.topCreds["acls/"+name]...)
	for _, a := range acls {
		cons.AddGroups(a.Str("group"))
		a.Use("consumer", "tags", "id")
		a.Rest(&im.plan.Report, what+".acls")
	}
	if gs := c.Key("groups"); gs != nil {
		var groups []string
		for _, g := range migrate.Objs(c.File, gs) {
			if g.Node != nil {
				groups = append(groups, g.Str("name"))
			}
		}
		groups = append(groups, migrate.Strings(gs)...)
		cons.AddGroups(groups...)
		im.report(c, "groups", what+".groups", migrate.Partial, "consumer groups %v are used as ACL groups; Kong's acl plugin matches them only with include_consumer_groups, and otherwise only acls[].group", groups)
	}
	for j, k := range append(c.List("keyauth_credentials"), im.topCreds["keyauth_credentials/"+name]...) {
		key := k.Str("key")
		id := k.Str("id")
		if id == "" {
			id = fmt.Sprintf("%s-%d", name, j+1)
		}
		if key == "" {
			im.report(k, "", what+".keyauth_credentials", migrate.NotMapped, "credential without a key (Kong generates one; it cannot be imported)")
			continue
		}
		cons.AddKey(id, key)
		im.report(k, "key", what+".keyauth_credentials", migrate.Mapped, "key %s stored as its SHA-256 hash in bundles/imported/data.json", id)
		if k.Has("ttl") {
			im.report(k, "ttl", what+".keyauth_credentials.ttl", migrate.NotMapped, "key TTL is not imported: set expires_at on the key in data.json")
		}
		k.Use("consumer", "tags", "ttl")
		k.Rest(&im.plan.Report, what+".keyauth_credentials")
	}
	for _, j := range append(c.List("jwt_secrets"), im.topCreds["jwt_secrets/"+name]...) {
		im.jwtSecret(j, name)
	}
	for _, kind := range []string{"basicauth_credentials", "hmacauth_credentials", "oauth2_credentials", "mtls_auth_credentials"} {
		if c.Has(kind) {
			im.report(c, kind, what+"."+kind, migrate.NotMapped, "credential kind without a Portcullis equivalent in the importer")
		}
		c.Use(kind)
	}
	for _, p := range c.List("plugins") {
		im.report(p, "name", "consumers."+name+".plugins."+p.Str("name"), migrate.NotMapped, "consumer-scoped plugins have no Portcullis equivalent")
	}
	im.report(c, "", what, migrate.Mapped, "consumer %q with groups %v in bundles/imported/data.json", name, cons.Groups)
	c.Rest(&im.plan.Report, what)
}
