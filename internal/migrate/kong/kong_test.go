package kong

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/migrate"
	"github.com/portcullis/portcullis/internal/migrate/migratetest"
)

// service wraps plugins (YAML list items, indented for services[0].plugins)
// into a declarative config with one service and route.
func withService(plugins string) string {
	return `_format_version: "3.0"
services:
  - name: svc
    url: http://backend:8080
    routes:
      - name: r
        paths: [/api]
    plugins:
` + plugins
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	migratetest.Run(t, Import, withService, []migratetest.Case{
		{
			Name:    "jwt without exp in claims_to_verify is a reported difference",
			Plugins: "      - name: jwt\n        config: {key_claim_name: iss, uri_param_names: []}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if len(r.Authn) != 1 || r.Authn[0] != "jwt" || r.BearerQuery != "" {
					t.Errorf("authn %v, query %q", r.Authn, r.BearerQuery)
				}
			},
			Report: "plugins.jwt.claims_to_verify=differs@10", Complete: true,
		},
		{
			Name:    "jwt uri_param_names becomes bearer_query",
			Plugins: "      - name: jwt\n        config: {uri_param_names: [token], cookie_names: [c], claims_to_verify: [exp]}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.BearerQuery != "token" || r.BearerCookie != "c" {
					t.Errorf("query %q cookie %q", r.BearerQuery, r.BearerCookie)
				}
			},
			Report: "plugins.jwt.claims_to_verify=mapped@10", Complete: true,
		},
		{
			Name:    "jwt header_names other than authorization is not mapped",
			Plugins: "      - name: jwt\n        config:\n          header_names: [x-token]\n",
			Report:  "plugins.jwt.header_names=not mapped@11",
		},
		{
			Name:    "key-auth: first key name is the header, the others and the query are differences",
			Plugins: "      - name: key-auth\n        config:\n          key_names: [X-API-Key, apikey]\n",
			Check: func(t *testing.T, r *migrate.Route, p *migrate.Plan) {
				if p.APIKeyHeader != "X-API-Key" || r.Authn[0] != "api_key" || r.HideCredentials != nil {
					t.Errorf("header %q authn %v hide %v", p.APIKeyHeader, r.Authn, r.HideCredentials)
				}
			},
			Report: "plugins.key-auth.hide_credentials=differs@11", Complete: true,
		},
		{
			Name:    "key-auth hide_credentials true is kept",
			Plugins: "      - name: key-auth\n        config: {hide_credentials: true, key_in_query: false}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.HideCredentials == nil || !*r.HideCredentials {
					t.Error("hide_credentials lost")
				}
			},
			Report: "plugins.key-auth.hide_credentials=mapped@10", Complete: true,
		},
		{
			Name:    "key-auth key_in_body is not mapped",
			Plugins: "      - name: key-auth\n        config:\n          key_in_body: true\n",
			Report:  "plugins.key-auth.key_in_body=not mapped@11",
		},
		{
			Name:    "acl allow and deny become the route's groups",
			Plugins: "      - name: acl\n        config: {allow: [a, b], deny: [c], hide_groups_header: true}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if strings.Join(r.AllowGroups, ",") != "a,b" || strings.Join(r.DenyGroups, ",") != "c" {
					t.Errorf("allow %v deny %v", r.AllowGroups, r.DenyGroups)
				}
			},
			Report: "plugins.acl=mapped@10", Complete: true,
		},
		{
			Name:    "request-size-limiting in kilobytes",
			Plugins: "      - name: request-size-limiting\n        config: {allowed_payload_size: 64, size_unit: kilobytes}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.MaxBodyBytes != 64<<10 || r.RequireContentLength {
					t.Errorf("max %d rcl %v", r.MaxBodyBytes, r.RequireContentLength)
				}
			},
			Report: "plugins.request-size-limiting=mapped@10", Complete: true,
		},
		{
			Name:    "request-size-limiting defaults to 128 megabytes",
			Plugins: "      - name: request-size-limiting\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.MaxBodyBytes != 128<<20 {
					t.Errorf("max %d", r.MaxBodyBytes)
				}
			},
			Complete: true,
		},
		{
			Name:    "request-size-limiting with an unknown unit is not mapped",
			Plugins: "      - name: request-size-limiting\n        config:\n          size_unit: gigabytes\n",
			Report:  "plugins.request-size-limiting.size_unit=not mapped@11",
		},
		{
			Name:    "request-validator body_schema becomes the route's body schema",
			Plugins: "      - name: request-validator\n        config:\n          version: draft4\n          body_schema: '{\"type\": \"object\", \"required\": [\"name\"]}'\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				m, ok := r.BodySchema.(map[string]any)
				if !ok || m["type"] != "object" || r.ContentTypes[0] != "application/json" {
					t.Errorf("schema %v types %v", r.BodySchema, r.ContentTypes)
				}
			},
			Report: "plugins.request-validator.version=mapped@11", Complete: true,
		},
		{
			Name:    "request-validator with a body_schema that is not JSON is not mapped",
			Plugins: "      - name: request-validator\n        config:\n          body_schema: '{not json'\n",
			Report:  "plugins.request-validator.body_schema=not mapped@11",
		},
		{
			Name:    "request-validator parameter_schema is not mapped",
			Plugins: "      - name: request-validator\n        config:\n          body_schema: '{}'\n          parameter_schema: []\n",
			Report:  "plugins.request-validator.parameter_schema=not mapped@12",
		},
		{
			Name:    "rate-limiting per minute and hour by ip",
			Plugins: "      - name: rate-limiting\n        config: {minute: 60, hour: 1000, limit_by: ip, policy: redis}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if len(r.RateLimits) != 2 || r.RateLimits[0].Name != "per-minute" || r.RateLimits[0].Rate != 60 || r.RateLimits[0].Key[0] != "client_ip" || r.RateLimits[1].Per.Hours() != 1 {
					t.Errorf("limits %+v", r.RateLimits)
				}
			},
			Report: "plugins.rate-limiting.policy=differs@10", Complete: true,
		},
		{
			Name:    "rate-limiting by path is not mapped",
			Plugins: "      - name: rate-limiting\n        config:\n          minute: 5\n          limit_by: path\n",
			Report:  "plugins.rate-limiting.limit_by=not mapped@12",
		},
		{
			Name:    "cors",
			Plugins: "      - name: cors\n        config: {origins: [\"https://a.example\"], methods: [GET], credentials: true, max_age: 600}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if c := r.CORS; c == nil || c.AllowOrigins[0] != "https://a.example" || !c.AllowCredentials || c.MaxAge.Minutes() != 10 {
					t.Errorf("cors %+v", r.CORS)
				}
			},
			Report: "plugins.cors=mapped@10", Complete: true,
		},
		{
			Name:    "ip-restriction",
			Plugins: "      - name: ip-restriction\n        config: {allow: [10.0.0.0/8], deny: [10.1.0.0/16]}\n",
			Check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.IPAllow[0] != "10.0.0.0/8" || r.IPDeny[0] != "10.1.0.0/16" {
					t.Errorf("allow %v deny %v", r.IPAllow, r.IPDeny)
				}
			},
			Report: "plugins.ip-restriction=mapped@10", Complete: true,
		},
		{
			Name:    "oauth2-introspection with a Basic authorization_value",
			Plugins: "      - name: oauth2-introspection\n        config: {introspection_url: \"https://idp.example/introspect\", authorization_value: \"Basic Y2xpZW50OnMzY3JldA==\"}\n",
			Check: func(t *testing.T, r *migrate.Route, p *migrate.Plan) {
				in := p.Introspection
				if in == nil || in.Endpoint != "https://idp.example/introspect" || in.ClientID != "client" || in.ClientSecret != "s3cret" || r.Authn[0] != "introspection" {
					t.Errorf("introspection %+v authn %v", in, r.Authn)
				}
			},
			Report: "plugins.oauth2-introspection.introspection_url=mapped@10", Complete: true,
		},
		{
			Name:    "oauth2-introspection with a bearer authorization_value is not mapped",
			Plugins: "      - name: oauth2-introspection\n        config:\n          introspection_url: https://idp.example/i\n          authorization_value: Bearer abc\n",
			Report:  "plugins.oauth2-introspection.authorization_value=not mapped@12",
		},
		{
			Name:     "correlation-id with Kong's header is a difference",
			Plugins:  "      - name: correlation-id\n        config: {header_name: Kong-Request-ID, echo_downstream: true}\n",
			Report:   "plugins.correlation-id.header_name=differs@10",
			Complete: true,
		},
		{
			Name:     "correlation-id on X-Request-ID maps",
			Plugins:  "      - name: correlation-id\n        config: {header_name: X-Request-ID}\n",
			Report:   "plugins.correlation-id=mapped@10",
			Complete: true,
		},
		{
			Name:    "an unknown plugin is reported with its line",
			Plugins: "      - name: bot-detection\n        config: {allow: [x]}\n",
			Report:  "plugins.bot-detection=not mapped@9",
		},
		{
			Name:    "an unknown field of a known plugin is reported",
			Plugins: "      - name: acl\n        config:\n          allow: [a]\n          hide_groups_header: true\n          frobnicate: 1\n",
			Report:  "plugins.acl.config.frobnicate=not mapped@13",
		},
		{
			Name:     "a disabled plugin is skipped",
			Plugins:  "      - name: bot-detection\n        enabled: false\n",
			Report:   "plugins.bot-detection=mapped@10",
			Complete: true,
		},
	})
}
