package migrate

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// authzRego is the policy of every imported bundle; the routes' rules are data.
//
//go:embed authz.rego
var authzRego string

// BundleName is the name and directory of the bundle the writer makes.
const BundleName = "imported"

// Write writes p into dir: portcullis.yaml, bundles/imported/ (policy,
// data with hashed keys, tests), keys/ (JWT public keys), secrets/ (HMAC
// and client secrets, mode 0600), schemas/ (OpenAPI fragments) and
// MIGRATION.md. dir is created; existing files of the same names are replaced.
func Write(dir string, p *Plan) error {
	w := &writer{dir: dir, plan: p}
	routes := expand(p.Routes)
	cfg := outConfig{
		Policy: outPolicy{
			Bundles:  []outBundle{{Name: BundleName, Path: "bundles/" + BundleName}},
			Decision: "data.portcullis.authz.decision",
		},
	}
	cfg.Authn = w.authn()
	for _, er := range routes {
		spec := ""
		if er.r.BodySchema != nil {
			spec = w.schema(er)
		}
		cfg.Routes = append(cfg.Routes, routeConfig(er.r, er.name, er.host, spec))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `portcullis import %s` from %s.\n# MIGRATION.md lists what each input item became and what did not map.\n",
		p.Source, strings.Join(baseNames(p.Files), ", "))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return fmt.Errorf("encode portcullis.yaml: %w", err)
	}
	w.file("portcullis.yaml", b.String(), 0o644)
	w.bundle(routes)
	w.file("MIGRATION.md", migrationReport(p, w.written), 0o644)
	return errors.Join(w.errs...)
}

// writer collects the files written and the first errors.
type writer struct {
	dir     string
	plan    *Plan
	written []string
	errs    []error
}

func (w *writer) file(name, content string, mode os.FileMode) {
	p := filepath.Join(w.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.errs = append(w.errs, err)
		return
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		w.errs = append(w.errs, err)
		return
	}
	w.written = append(w.written, name)
}

func (w *writer) authn() *outAuthn {
	p := w.plan
	a := &outAuthn{}
	for i := range p.Issuers {
		is := &p.Issuers[i]
		var files []string
		for j, pem := range is.PublicKeys {
			name := fmt.Sprintf("keys/%s-%d.pem", fileName(is.Issuer), j+1)
			w.file(name, strings.TrimSpace(pem)+"\n", 0o644)
			files = append(files, name)
		}
		if is.SecretName != "" {
			w.file("secrets/"+fileName(is.SecretName), is.Secret, 0o600)
		}
		if a.JWT == nil {
			a.JWT = &outJWT{}
		}
		a.JWT.Issuers = append(a.JWT.Issuers, issuerConfig(is, files))
	}
	if in := p.Introspection; in != nil {
		oi := &outIntrospection{Endpoint: in.Endpoint, ClientID: in.ClientID, AuthMethod: in.AuthMethod, CacheTTL: dur(in.CacheTTL)}
		if in.ClientSecret != "" {
			w.file("secrets/introspection-client-secret", in.ClientSecret, 0o600)
			oi.ClientSecret = "file:secrets/introspection-client-secret"
		}
		a.Introspection = oi
	}
	if slices.ContainsFunc(p.Routes, func(r Route) bool { return slices.Contains(r.Authn, "api_key") }) {
		a.APIKeys = &outAPIKeys{Header: p.APIKeyHeader, Query: p.APIKeyQuery, DataPath: "portcullis.consumers"}
	}
	if a.JWT == nil && a.Introspection == nil && a.APIKeys == nil {
		return nil
	}
	return a
}

// expanded is a plan route as one Portcullis route: one per host.
type expanded struct {
	r    *Route
	name string
	host string
}

func expand(routes []Route) []expanded {
	var out []expanded
	for i := range routes {
		r := &routes[i]
		if len(r.Hosts) <= 1 {
			host := ""
			if len(r.Hosts) == 1 {
				host = r.Hosts[0]
			}
			out = append(out, expanded{r, r.Name, host})
			continue
		}
		for j, h := range r.Hosts {
			out = append(out, expanded{r, fmt.Sprintf("%s-%d", r.Name, j+1), h})
		}
	}
	return out
}

func (w *writer) bundle(routes []expanded) {
	consumers := map[string]any{}
	jwtConsumers := map[string]string{}
	// The policy reads groups here: the gateway holds the consumers
	// object for its API keys and policies cannot read it.
	groups := map[string]any{}
	for _, c := range w.plan.Consumers {
		keys := make([]any, 0, len(c.Keys))
		for _, k := range c.Keys {
			keys = append(keys, map[string]any{"id": k.ID, "hash": k.Hash})
		}
		entry := map[string]any{"groups": nonNil(c.Groups)}
		if len(keys) > 0 {
			entry["keys"] = keys
		}
		consumers[c.Name] = entry
		groups[c.Name] = nonNil(c.Groups)
		for _, iss := range c.Issuers {
			jwtConsumers[iss] = c.Name
		}
	}
	rules := map[string]any{}
	for _, er := range routes {
		rules[er.name] = ruleData(er.r)
	}
	data := map[string]any{"portcullis": map[string]any{
		"consumers": consumers,
		"imported":  map[string]any{"routes": rules, "jwt_consumers": jwtConsumers, "consumer_groups": groups},
	}}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		w.errs = append(w.errs, err)
		return
	}
	dir := "bundles/" + BundleName + "/"
	w.file(dir+"data.json", string(b)+"\n", 0o644)
	w.file(dir+"authz.rego", authzRego, 0o644)
	w.file(dir+"authz_test.rego", regoTests(w.plan, routes), 0o644)
}

// ruleData is a route's entry in data.portcullis.imported.routes.
func ruleData(r *Route) map[string]any {
	m := map[string]any{}
	if len(r.Authn) == 0 {
		m["anonymous"] = true
	}
	for k, v := range map[string][]string{
		"allow_groups": r.AllowGroups, "deny_groups": r.DenyGroups,
		"allow_consumers": r.AllowConsumers, "deny_consumers": r.DenyConsumers, "issuers": r.Issuers,
	} {
		if len(v) > 0 {
			m[k] = v
		}
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func baseNames(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Base(f)
	}
	return out
}
