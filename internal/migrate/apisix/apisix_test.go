package apisix

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/internal/migrate"
	"github.com/portcullis/portcullis/internal/migrate/migratetest"
)

// withRoute puts plugins (YAML map entries indented for routes[0].plugins)
// on one route with an upstream.
func withRoute(plugins string) string {
	return `routes:
  - uri: /api/*
    upstream:
      nodes:
        "backend:8080": 1
    plugins:
` + plugins
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	migratetest.Run(t, Import, withRoute, []migratetest.Case{
		{
			Name:    "jwt-auth takes APISIX's query and cookie defaults",
			Plugins: "      jwt-auth: {}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.Authn[0] != "jwt" || r.BearerQuery != "jwt" || r.BearerCookie != "jwt" {
					t.Errorf("%+v", r)
				}
			},
			Report: "plugins.jwt-auth.hide_credentials=differs@7", Complete: true,
		},
		{
			Name:    "jwt-auth on another header is not mapped",
			Plugins: "      jwt-auth:\n        header: X-Token\n",
			Report:  "plugins.jwt-auth.header=not mapped@8",
		},
		{
			Name:    "key-auth header and query",
			Plugins: "      key-auth: {header: X-Key, hide_credentials: true}\n",
			Check: func(t *testing.T, r *migrate.Route, p *migrate.Plan) {
				if p.APIKeyHeader != "X-Key" || r.Authn[0] != "api_key" || !*r.HideCredentials {
					t.Errorf("%+v", r)
				}
			},
			Report: "plugins.key-auth.query=differs@7", Complete: true,
		},
		{
			Name:    "consumer-restriction by consumer name",
			Plugins: "      consumer-restriction: {whitelist: [a], blacklist: [b]}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.AllowConsumers[0] != "a" || r.DenyConsumers[0] != "b" {
					t.Errorf("%+v", r)
				}
			},
			Report: "plugins.consumer-restriction=mapped@7", Complete: true,
		},
		{
			Name:    "consumer-restriction by route id is not mapped",
			Plugins: "      consumer-restriction:\n        type: route_id\n        whitelist: [x]\n",
			Report:  "plugins.consumer-restriction.type=not mapped@8",
		},
		{
			Name:    "consumer-restriction allowed_by_methods is not mapped",
			Plugins: "      consumer-restriction:\n        allowed_by_methods: []\n",
			Report:  "plugins.consumer-restriction.allowed_by_methods=not mapped@8",
		},
		{
			Name:    "request-validation body_schema",
			Plugins: "      request-validation:\n        body_schema: {type: object, required: [name]}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if m, _ := r.BodySchema.(map[string]any); m["type"] != "object" || len(r.BodyMethods) != 0 {
					t.Errorf("%+v", r)
				}
			},
			Report: "plugins.request-validation.body_schema=mapped@8", Complete: true,
		},
		{
			Name:    "request-validation header_schema is not mapped",
			Plugins: "      request-validation:\n        header_schema: {type: object}\n",
			Report:  "plugins.request-validation.header_schema=not mapped@8",
		},
		{
			Name:    "client-control max_body_size",
			Plugins: "      client-control: {max_body_size: 1048576}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.MaxBodyBytes != 1<<20 {
					t.Errorf("%+v", r)
				}
			},
			Report: "plugins.client-control.max_body_size=mapped@7", Complete: true,
		},
		{
			Name:    "openid-connect bearer_only with introspection",
			Plugins: "      openid-connect: {client_id: gw, client_secret: s, bearer_only: true, introspection_endpoint: \"https://idp/i\", introspection_endpoint_auth_method: client_secret_post}\n",
			Check: func(t *testing.T, r *migrate.Route, p *migrate.Plan) {
				in := p.Introspection
				if in == nil || in.ClientID != "gw" || in.ClientSecret != "s" || in.AuthMethod != "client_secret_post" || r.Authn[0] != "introspection" {
					t.Errorf("%+v %+v", in, r)
				}
			},
			Report: "plugins.openid-connect.introspection_endpoint=mapped@7", Complete: true,
		},
		{
			Name:    "openid-connect login flow is not mapped",
			Plugins: "      openid-connect: {client_id: gw, discovery: \"https://idp/.well-known\"}\n",
			Report:  "plugins.openid-connect=not mapped@7",
		},
		{
			Name:    "limit-count by remote_addr",
			Plugins: "      limit-count: {count: 10, time_window: 60, rejected_code: 429}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if l := r.RateLimits; len(l) != 1 || l[0].Rate != 10 || l[0].Per.Minutes() != 1 || l[0].Key[0] != "client_ip" {
					t.Errorf("%+v", l)
				}
			},
			Report: "plugins.limit-count=differs@7", Complete: true,
		},
		{
			Name:    "limit-count by header keeps the header name",
			Plugins: "      limit-count: {count: 1, time_window: 1, key: http_x_api_user}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.RateLimits[0].Key[0] != "header:X-Api-User" {
					t.Errorf("%+v", r.RateLimits)
				}
			},
			Report: "plugins.limit-count.rejected_code=differs@7", Complete: true,
		},
		{
			Name:    "limit-count by var_combination is not mapped",
			Plugins: "      limit-count:\n        count: 1\n        time_window: 1\n        key_type: var_combination\n",
			Report:  "plugins.limit-count.key_type=not mapped@10",
		},
		{
			Name:    "cors splits APISIX's comma lists",
			Plugins: "      cors: {allow_origins: \"https://a.example,https://b.example\", allow_methods: \"GET,POST\", max_age: 60}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if c := r.CORS; len(c.AllowOrigins) != 2 || c.AllowMethods[1] != "POST" || c.MaxAge.Seconds() != 60 {
					t.Errorf("%+v", c)
				}
			},
			Report: "plugins.cors=mapped@7", Complete: true,
		},
		{
			Name:    "ip-restriction",
			Plugins: "      ip-restriction: {whitelist: [10.0.0.0/8]}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.IPAllow[0] != "10.0.0.0/8" {
					t.Errorf("%+v", r)
				}
			},
			Report: "plugins.ip-restriction=mapped@7", Complete: true,
		},
		{
			Name:     "request-id on X-Request-Id maps",
			Plugins:  "      request-id: {}\n",
			Report:   "plugins.request-id=mapped@7",
			Complete: true,
		},
		{
			Name:    "an unknown plugin is reported",
			Plugins: "      proxy-rewrite: {uri: /x}\n",
			Report:  "plugins.proxy-rewrite=not mapped@7",
		},
	})
}

func TestRoutesAndConsumers(t *testing.T) {
	t.Parallel()
	src := `upstreams:
  - id: pool
    nodes:
      - {host: 10.0.0.1, port: 80, weight: 1}
      - {host: 10.0.0.2, port: 80, weight: 1}
routes:
  - name: exact
    uris: [/a, /b/*]
    methods: [GET, POST]
    upstream_id: pool
    plugins:
      request-validation:
        body_schema: {type: object}
  - uri: /c
    service_id: s1
    upstream_id: missing
consumers:
  - username: partner
    plugins:
      key-auth: {key: partner-cleartext-key}
  - username: hs
    plugins:
      jwt-auth: {key: hs-key, secret: short}
  - username: other
    plugins:
      basic-auth: {username: u, password: p}
global_rules:
  - id: 1
`
	p := migratetest.Import(t, Import, "apisix.yaml", src)
	var got []string
	for _, r := range p.Routes {
		got = append(got, r.Name+" "+r.Path+r.PathPrefix+" "+strings.Join(r.Upstreams, ",")+" "+strings.Join(r.BodyMethods, ","))
	}
	want := "exact-1 /a http://10.0.0.1:80,http://10.0.0.2:80 POST; exact-2 /b http://10.0.0.1:80,http://10.0.0.2:80 POST"
	if g := strings.Join(got, "; "); g != want {
		t.Errorf("routes %q, want %q", g, want)
	}
	if c := p.Consumer("partner"); len(c.Keys) != 1 || c.Keys[0].Hash != apikey.Hash("partner-cleartext-key") {
		t.Errorf("partner %+v", c)
	}
	for _, spec := range []string{
		"routes.route-2.service_id=not mapped@15",
		"routes.route-2.upstream_id=not mapped@16",
		"consumers.hs.plugins.jwt-auth=not mapped@23",
		"consumers.other.plugins.basic-auth=not mapped@26",
		"global_rules=not mapped@27",
		"routes.exact.upstream.nodes=differs@3",
	} {
		if !migratetest.Has(p, spec) {
			t.Errorf("no %s:\n%s", spec, migratetest.Dump(p))
		}
	}
}

func TestNotAPISIX(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"_format_version: '3.0'\nservices: []\n", "- x\n", "routes: [\n"} {
		if _, err := Import([]migrate.Input{{Name: "x.yaml", Data: []byte(src)}}); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}
