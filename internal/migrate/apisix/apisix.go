// Package apisix reads APISIX standalone YAML (routes, upstreams,
// consumers) into a migration plan.
package apisix

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/migrate"
)

type importer struct {
	plan      *migrate.Plan
	upstreams map[string]*migrate.Obj
}

// Import reads the APISIX files. It fails only when an input is not YAML
// or has none of routes, upstreams and consumers; everything else that does
// not map is in the plan's report.
func Import(inputs []migrate.Input) (*migrate.Plan, error) {
	im := &importer{plan: &migrate.Plan{Source: "apisix"}, upstreams: map[string]*migrate.Obj{}}
	var roots []*migrate.Obj
	docs, err := im.plan.Documents(inputs)
	if err != nil {
		return nil, err
	}
	for _, root := range docs {
		if root.Node == nil || !root.Has("routes") && !root.Has("consumers") && !root.Has("upstreams") {
			return nil, fmt.Errorf("%s: no routes, upstreams or consumers: not APISIX standalone configuration", root.File)
		}
		roots = append(roots, root)
		for _, u := range root.List("upstreams") {
			im.upstreams[u.Str("id")] = u
		}
	}
	// Consumers first: routes' plugins read their credentials.
	for _, root := range roots {
		for _, c := range root.List("consumers") {
			im.consumer(c)
		}
	}
	for _, root := range roots {
		for i, r := range root.List("routes") {
			im.route(r, i)
		}
		for _, k := range []string{"services", "global_rules", "plugin_configs", "consumer_groups", "ssls", "stream_routes", "plugin_metadata", "protos"} {
			if root.Has(k) {
				im.plan.Report.Add(root.File, root.LineOf(k), k, migrate.NotMapped, "not supported by the importer")
			}
			root.Use(k)
		}
		root.Rest(&im.plan.Report, "")
	}
	return im.plan, nil
}

func (im *importer) consumer(c *migrate.Obj) {
	name := c.Str("username")
	what := "consumers." + name
	cons := im.plan.Consumer(name)
	c.Use("desc", "labels", "create_time", "update_time")
	if g := c.Str("group_id"); g != "" {
		cons.AddGroups(g)
		im.plan.Report.Add(c.File, c.LineOf("group_id"), what+".group_id", migrate.Partial, "consumer group %q is the consumer's group in data.json; its plugins are not imported", g)
	}
	plugins := c.Obj("plugins")
	keys, _ := plugins.Pairs()
	for _, k := range keys {
		p := plugins.Obj(k.Value)
		pw := what + ".plugins." + k.Value
		switch k.Value {
		case "key-auth":
			if key := p.Str("key"); key != "" {
				cons.AddKey(name+"-1", key)
				im.plan.Report.Add(c.File, k.Line, pw, migrate.Mapped, "key %s-1 stored as its SHA-256 hash in bundles/imported/data.json", name)
			}
		case "jwt-auth":
			im.jwtConsumer(p, name, k.Line, pw)
		default:
			im.plan.Report.Add(c.File, k.Line, pw, migrate.NotMapped, "consumer plugin %q has no Portcullis equivalent in the importer", k.Value)
			p.Use(p.Keys()...)
		}
		p.Rest(&im.plan.Report, pw)
	}
	im.plan.Report.Add(c.File, c.Line(), what, migrate.Mapped, "consumer %q in bundles/imported/data.json", name)
	c.Rest(&im.plan.Report, what)
}

func (im *importer) jwtConsumer(p *migrate.Obj, consumer string, line int, what string) {
	key, alg := p.Str("key"), p.Str("algorithm")
	if alg == "" {
		alg = "HS256"
	}
	p.Use("exp", "base64_secret", "private_key")
	if key == "" {
		im.plan.Report.Add(p.File, line, what, migrate.NotMapped, "no key")
		return
	}
	if p.Bool("base64_secret", false) {
		im.plan.Report.Add(p.File, p.LineOf("base64_secret"), what+".base64_secret", migrate.NotMapped, "decode the secret into secrets/ yourself")
	}
	p.Use("secret", "public_key")
	is := im.plan.AddCredential(p, what, migrate.Credential{Gateway: "APISIX", Consumer: consumer, Key: key, Alg: alg,
		Secret: p.Str("secret"), SecretField: "secret", PEM: p.Str("public_key"), PEMField: "public_key"})
	if is == nil {
		return
	}
	if s, ok := p.Int("lifetime_grace_period"); ok {
		d := time.Duration(s) * time.Second
		is.ClockSkew = &d
	}
	im.plan.Report.Add(p.File, p.LineOf("key"), what+".key", migrate.Partial, "APISIX found the consumer by the token's key claim; Portcullis selects the issuer by iss, so tokens must carry iss: %q, and exp (APISIX's exp only set the lifetime of tokens it signed)", key)
}

func (im *importer) route(r *migrate.Obj, i int) {
	name := r.Str("name")
	if name == "" {
		name = r.Str("id")
	}
	if name == "" {
		name = fmt.Sprintf("route-%d", i+1)
	}
	name = migrate.UniqueName(name, func(n string) bool {
		return slices.ContainsFunc(im.plan.Routes, func(x migrate.Route) bool { return x.Name == n || strings.HasPrefix(x.Name, n+"-") })
	})
	what := "routes." + name
	r.Use("id", "name", "desc", "labels", "priority", "status", "create_time", "update_time")
	base := migrate.Route{File: r.File, Line: r.Line(), Methods: r.Strs("methods")}
	base.Hosts = append(r.Strs("host"), r.Strs("hosts")...)
	for _, k := range []string{"service_id", "plugin_config_id", "vars", "remote_addrs", "filter_func", "script"} {
		if r.Has(k) {
			im.plan.Report.Add(r.File, r.LineOf(k), what+"."+k, migrate.NotMapped, "not supported by the importer")
		}
		r.Use(k)
	}
	up := r.Obj("upstream")
	if id := r.Str("upstream_id"); id != "" {
		if u, ok := im.upstreams[id]; ok {
			up = u
		} else {
			im.plan.Report.Add(r.File, r.LineOf("upstream_id"), what+".upstream_id", migrate.NotMapped, "upstream %q is not in the input", id)
		}
	}
	base.Upstreams = im.upstream(up, what)
	if len(base.Upstreams) == 0 {
		im.plan.Report.Add(r.File, r.Line(), what, migrate.NotMapped, "no upstream nodes: the route is not imported")
		return
	}
	if r.Bool("enable_websocket", false) {
		im.plan.Report.Add(r.File, r.LineOf("enable_websocket"), what+".enable_websocket", migrate.Partial, "set routes[].upgrade: [websocket]")
	}
	plugins := r.Obj("plugins")
	pk, _ := plugins.Pairs()
	for _, k := range pk {
		im.plugin(&base, plugins.Obj(k.Value), k.Value, k.Line, what+".plugins."+k.Value)
	}
	uris := append(r.Strs("uri"), r.Strs("uris")...)
	if len(uris) == 0 {
		uris = []string{"/*"}
	}
	var made []string
	for j, u := range uris {
		rt := base
		rt.Name = name
		if len(uris) > 1 {
			rt.Name = fmt.Sprintf("%s-%d", name, j+1)
		}
		if p, ok := strings.CutSuffix(u, "*"); ok {
			if strings.Contains(p, "*") {
				im.plan.Report.Add(r.File, r.LineOf("uri"), what+".uri", migrate.NotMapped, "wildcard inside %q", u)
				continue
			}
			rt.PathPrefix = p
			if p != "/" {
				rt.PathPrefix = strings.TrimRight(p, "/")
			}
		} else {
			rt.Path = u
		}
		if rt.BodySchema != nil && len(rt.BodyMethods) == 0 {
			rt.BodyMethods = bodyMethods(rt.Methods)
		}
		im.plan.Routes = append(im.plan.Routes, rt)
		made = append(made, rt.Name)
	}
	if len(made) > 0 {
		im.plan.Report.Add(r.File, r.Line(), what, migrate.Mapped, "route %s (%s; APISIX's /x/* also matched /x/ but not /x, Portcullis's prefix /x matches /x too)", strings.Join(made, ", "), strings.Join(uris, ", "))
	}
	r.Rest(&im.plan.Report, what)
}

// bodyMethods are the route's methods that carry bodies; all when it has none.
func bodyMethods(methods []string) []string {
	var out []string
	for _, m := range methods {
		if slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE"}, strings.ToUpper(m)) {
			out = append(out, strings.ToUpper(m))
		}
	}
	return out
}

func (im *importer) upstream(u *migrate.Obj, what string) []string {
	if u.Node == nil {
		return nil
	}
	scheme := u.Str("scheme")
	if scheme == "" {
		scheme = "http"
	}
	var out []string
	nodes := u.Key("nodes")
	if n := migrate.NewObj(u.File, nodes); n.Node != nil {
		ks, _ := n.Pairs()
		for _, k := range ks {
			out = append(out, scheme+"://"+k.Value)
		}
	} else {
		for _, n := range migrate.Objs(u.File, nodes) {
			out = append(out, fmt.Sprintf("%s://%s:%s", scheme, n.Str("host"), n.Str("port")))
		}
	}
	if t := u.Str("type"); t != "" && t != "roundrobin" {
		im.plan.Report.Add(u.File, u.LineOf("type"), what+".upstream.type", migrate.Partial, "%s balancing becomes round robin", t)
	}
	if len(out) > 1 {
		im.plan.Report.Add(u.File, u.LineOf("nodes"), what+".upstream.nodes", migrate.Partial, "node weights are not imported: round robin over %d upstreams", len(out))
	}
	u.Use("id", "name", "desc", "labels", "type", "pass_host", "hash_on", "key")
	for _, k := range []string{"timeout", "retries", "retry_timeout", "checks", "keepalive_pool", "tls", "upstream_host", "discovery_type", "service_name"} {
		if u.Has(k) {
			im.plan.Report.Add(u.File, u.LineOf(k), what+".upstream."+k, migrate.NotMapped, "not supported by the importer")
		}
		u.Use(k)
	}
	u.Rest(&im.plan.Report, what+".upstream")
	return out
}
