// Package envoygateway reads Envoy Gateway SecurityPolicy resources and the
// Gateway API HTTPRoutes they target into a migration plan.
package envoygateway

import (
	"fmt"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/migrate"
)

type importer struct {
	plan     *migrate.Plan
	policies []*migrate.Obj
	// routes are the Portcullis routes made from each HTTPRoute, by namespace/name.
	routes map[string][]int
}

// Import reads the Kubernetes resources of the files. It fails only when an
// input is not YAML or holds no SecurityPolicy or HTTPRoute.
func Import(inputs []migrate.Input) (*migrate.Plan, error) {
	im := &importer{plan: &migrate.Plan{Source: "envoy-gateway"}, routes: map[string][]int{}}
	found := false
	docs, err := im.plan.Documents(inputs)
	if err != nil {
		return nil, err
	}
	for _, o := range docs {
		if o.Node == nil {
			continue
		}
		kind := o.Str("kind")
		o.Use("apiVersion", "status")
		switch kind {
		case "SecurityPolicy":
			im.policies = append(im.policies, o)
			found = true
		case "HTTPRoute":
			im.httpRoute(o)
			found = true
		case "Gateway", "GatewayClass":
			im.plan.Report.Add(o.File, o.Line(), kind+" "+o.Obj("metadata").Str("name"), migrate.Partial, "listeners are configured in portcullis.yaml's listen section, not imported")
		default:
			im.plan.Report.Add(o.File, o.Line(), kind, migrate.NotMapped, "resource kind %q is not imported", kind)
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no SecurityPolicy or HTTPRoute resources", strings.Join(im.plan.Files, ", "))
	}
	for _, p := range im.policies {
		im.securityPolicy(p)
	}
	return im.plan, nil
}

func meta(o *migrate.Obj) (ns, name string) {
	m := o.Obj("metadata")
	ns = m.Str("namespace")
	if ns == "" {
		ns = "default"
	}
	return ns, m.Str("name")
}

func (im *importer) httpRoute(o *migrate.Obj) {
	ns, name := meta(o)
	what := "HTTPRoute " + ns + "/" + name
	spec := o.Obj("spec")
	spec.Use("parentRefs")
	hosts := spec.Strs("hostnames")
	for i, rule := range spec.List("rules") {
		var ups []string
		for _, b := range rule.List("backendRefs") {
			bns := b.Str("namespace")
			if bns == "" {
				bns = ns
			}
			port := b.Str("port")
			if k := b.Str("kind"); k != "" && k != "Service" {
				im.plan.Report.Add(b.File, b.Line(), what+".backendRefs", migrate.NotMapped, "backend kind %s", k)
				continue
			}
			ups = append(ups, fmt.Sprintf("http://%s.%s:%s", b.Str("name"), bns, port))
			b.Use("name", "port", "weight", "group", "kind", "namespace")
			b.Rest(&im.plan.Report, what+".backendRefs")
		}
		if len(ups) == 0 {
			im.plan.Report.Add(rule.File, rule.Line(), what+".rules", migrate.NotMapped, "rule without a Service backend: not imported")
			continue
		}
		for _, k := range []string{"filters", "timeouts", "sessionPersistence", "retry"} {
			if rule.Has(k) {
				im.plan.Report.Add(rule.File, rule.LineOf(k), what+".rules."+k, migrate.NotMapped, "not supported by the importer")
			}
			rule.Use(k)
		}
		rule.Use("name")
		matches := rule.List("matches")
		if len(matches) == 0 {
			matches = []*migrate.Obj{migrate.NewObj(rule.File, nil)}
		}
		for j, m := range matches {
			rt := migrate.Route{Name: fmt.Sprintf("%s-%d-%d", name, i+1, j+1), File: o.File, Line: rule.Line(), Hosts: hosts, Upstreams: ups}
			if len(spec.List("rules")) == 1 && len(matches) == 1 {
				rt.Name = name
			}
			p := m.Obj("path")
			value := p.Str("value")
			if value == "" {
				value = "/"
			}
			switch t := p.Str("type"); t {
			case "", "PathPrefix":
				rt.PathPrefix = value
			case "Exact":
				rt.Path = value
			default:
				im.plan.Report.Add(m.File, m.LineOf("path"), what+".matches.path", migrate.NotMapped, "path match type %s", t)
				continue
			}
			if meth := m.Str("method"); meth != "" {
				rt.Methods = []string{meth}
			}
			for _, k := range []string{"headers", "queryParams"} {
				if m.Has(k) {
					im.plan.Report.Add(m.File, m.LineOf(k), what+".matches."+k, migrate.NotMapped, "header and query matches are not imported: the route matches without them")
				}
				m.Use(k)
			}
			m.Rest(&im.plan.Report, what+".matches")
			im.routes[ns+"/"+name] = append(im.routes[ns+"/"+name], len(im.plan.Routes))
			im.plan.Routes = append(im.plan.Routes, rt)
			im.plan.Report.Add(m.File, max(m.Line(), rule.Line()), what, migrate.Mapped, "route %s: %s%s → %s", rt.Name, rt.PathPrefix, rt.Path, strings.Join(ups, ", "))
		}
		rule.Rest(&im.plan.Report, what+".rules")
	}
	spec.Rest(&im.plan.Report, what+".spec")
}

func (im *importer) securityPolicy(o *migrate.Obj) {
	ns, name := meta(o)
	what := "SecurityPolicy " + ns + "/" + name
	spec := o.Obj("spec")
	targets := spec.List("targetRefs")
	if t := spec.Obj("targetRef"); t.Node != nil {
		targets = append(targets, t)
	}
	var routeIdx []int
	for _, t := range targets {
		t.Use("group", "sectionName")
		if k := t.Str("kind"); k != "HTTPRoute" {
			im.plan.Report.Add(t.File, t.Line(), what+".targetRefs", migrate.NotMapped, "target kind %s: only HTTPRoute targets are imported", k)
			continue
		}
		idx, ok := im.routes[ns+"/"+t.Str("name")]
		if !ok {
			im.plan.Report.Add(t.File, t.Line(), what+".targetRefs", migrate.NotMapped, "HTTPRoute %s/%s is not in the input: pass its file too", ns, t.Str("name"))
			continue
		}
		routeIdx = append(routeIdx, idx...)
		t.Rest(&im.plan.Report, what+".targetRefs")
	}
	if spec.Has("targetSelectors") {
		im.plan.Report.Add(o.File, spec.LineOf("targetSelectors"), what+".targetSelectors", migrate.NotMapped, "label selectors are not imported")
	}
	spec.Use("targetSelectors")
	jwt := spec.Obj("jwt")
	var issuers []string
	for _, p := range jwt.List("providers") {
		if iss := im.provider(p, what); iss != "" {
			issuers = append(issuers, iss)
		}
	}
	if jwt.Bool("optional", false) {
		im.plan.Report.Add(o.File, jwt.LineOf("optional"), what+".jwt.optional", migrate.NotMapped, "Portcullis answers 401 to requests without a token on these routes")
	}
	jwt.Rest(&im.plan.Report, what+".jwt")
	for _, i := range routeIdx {
		rt := &im.plan.Routes[i]
		if len(issuers) > 0 {
			rt.AddAuthn("jwt")
			rt.Issuers = append(rt.Issuers, issuers...)
		}
	}
	if len(issuers) > 0 {
		im.plan.Report.Add(o.File, o.Line(), what, migrate.Mapped, "routes of its HTTPRoutes accept tokens of issuers %v only (bundles/imported checks the issuer per route)", issuers)
	}
	for _, k := range []string{"cors", "basicAuth", "apiKeyAuth", "oidc", "extAuth", "authorization"} {
		if spec.Has(k) {
			im.plan.Report.Add(o.File, spec.LineOf(k), what+"."+k, migrate.NotMapped, "not supported by the importer")
		}
		spec.Use(k)
	}
	spec.Rest(&im.plan.Report, what+".spec")
}

// provider maps one JWT provider onto an issuer and returns its iss.
func (im *importer) provider(p *migrate.Obj, what string) string {
	w := what + ".jwt.providers." + p.Str("name")
	iss := p.Str("issuer")
	if iss == "" {
		im.plan.Report.Add(p.File, p.Line(), w, migrate.NotMapped, "a provider without issuer: Portcullis selects the issuer by iss")
		return ""
	}
	is := migrate.Issuer{Issuer: iss, Audiences: p.Strs("audiences"), Required: []string{"exp"},
		Algorithms: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}}
	r := p.Obj("remoteJWKS")
	is.JWKSURI = r.Str("uri")
	if is.JWKSURI == "" {
		im.plan.Report.Add(p.File, p.Line(), w, migrate.NotMapped, "no remoteJWKS.uri (localJWKS is not imported)")
		p.Use("localJWKS")
		return ""
	}
	if d := r.Str("cacheDuration"); d != "" {
		if v, err := time.ParseDuration(d); err == nil {
			is.Refresh = v
		} else {
			im.plan.Report.Add(r.File, r.LineOf("cacheDuration"), w+".remoteJWKS.cacheDuration", migrate.NotMapped, "not a duration: %q", d)
		}
	}
	r.Use("backendRefs", "backendSettings")
	r.Rest(&im.plan.Report, w+".remoteJWKS")
	for _, c := range p.List("claimToHeaders") {
		if is.ClaimsToHdr == nil {
			is.ClaimsToHdr = map[string]string{}
		}
		is.ClaimsToHdr[c.Str("claim")] = textproto.CanonicalMIMEHeaderKey(c.Str("header"))
		c.Rest(&im.plan.Report, w+".claimToHeaders")
	}
	ex := p.Obj("extractFrom")
	if ex.Node != nil {
		im.plan.Report.Add(p.File, p.LineOf("extractFrom"), w+".extractFrom", migrate.NotMapped, "Portcullis reads the token from Authorization (and a route's bearer_query/bearer_cookie): set those by hand")
		ex.Use(ex.Keys()...)
	}
	p.Use("name", "recomputeRoute")
	p.Rest(&im.plan.Report, w)
	if prev := im.plan.Issuer(iss); prev != nil {
		if prev.JWKSURI != is.JWKSURI || !slices.Equal(prev.Audiences, is.Audiences) {
			im.plan.Report.Add(p.File, p.Line(), w, migrate.NotMapped, "issuer %s is configured twice with different keys or audiences: the first is kept", iss)
		}
		return iss
	}
	im.plan.Issuers = append(im.plan.Issuers, is)
	im.plan.Report.Add(p.File, p.Line(), w, migrate.Mapped, "authn.jwt issuer %s, jwks_uri %s, refresh_interval %s", iss, is.JWKSURI, is.Refresh)
	im.plan.Report.Add(p.File, p.Line(), w+".algorithms", migrate.Partial, "Envoy accepted any asymmetric algorithm of the key set; Portcullis needs an allow-list: all asymmetric ones are listed, narrow it")
	im.plan.Report.Add(p.File, p.Line(), w+".exp", migrate.Partial, "Envoy verified exp only when present; Portcullis requires exp (required_claims [exp])")
	return iss
}
