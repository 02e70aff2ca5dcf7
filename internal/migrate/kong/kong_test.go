package kong

import (
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/migrate"
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

func mustImport(t *testing.T, src string) *migrate.Plan {
	t.Helper()
	p, err := Import([]migrate.Input{{Name: "kong.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// has tells whether the report has the item spec, "what=outcome@line"
// (what a suffix of the item's What; "@line" optional).
func has(p *migrate.Plan, spec string) bool {
	what, rest, _ := strings.Cut(spec, "=")
	out, line, _ := strings.Cut(rest, "@")
	for _, it := range p.Report {
		if strings.HasSuffix(it.What, what) && it.Outcome == migrate.Outcome(out) && (line == "" || line == strconv.Itoa(it.Line)) {
			return true
		}
	}
	return false
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		plugins string
		check   func(t *testing.T, r *migrate.Route, p *migrate.Plan)
		// report: an item that must be there, as "what=outcome@line".
		report   string
		complete bool
	}{
		{
			name:    "jwt without exp in claims_to_verify is a reported difference",
			plugins: "      - name: jwt\n        config: {key_claim_name: iss, uri_param_names: []}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if len(r.Authn) != 1 || r.Authn[0] != "jwt" || r.BearerQuery != "" {
					t.Errorf("authn %v, query %q", r.Authn, r.BearerQuery)
				}
			},
			report: "plugins.jwt.claims_to_verify=differs@10", complete: true,
		},
		{
			name:    "jwt uri_param_names becomes bearer_query",
			plugins: "      - name: jwt\n        config: {uri_param_names: [token], cookie_names: [c], claims_to_verify: [exp]}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.BearerQuery != "token" || r.BearerCookie != "c" {
					t.Errorf("query %q cookie %q", r.BearerQuery, r.BearerCookie)
				}
			},
			report: "plugins.jwt.claims_to_verify=mapped@10", complete: true,
		},
		{
			name:    "jwt header_names other than authorization is not mapped",
			plugins: "      - name: jwt\n        config:\n          header_names: [x-token]\n",
			report:  "plugins.jwt.header_names=not mapped@11",
		},
		{
			name:    "key-auth: first key name is the header, the others and the query are differences",
			plugins: "      - name: key-auth\n        config:\n          key_names: [X-API-Key, apikey]\n",
			check: func(t *testing.T, r *migrate.Route, p *migrate.Plan) {
				if p.APIKeyHeader != "X-API-Key" || r.Authn[0] != "api_key" || r.HideCredentials != nil {
					t.Errorf("header %q authn %v hide %v", p.APIKeyHeader, r.Authn, r.HideCredentials)
				}
			},
			report: "plugins.key-auth.hide_credentials=differs@11", complete: true,
		},
		{
			name:    "key-auth hide_credentials true is kept",
			plugins: "      - name: key-auth\n        config: {hide_credentials: true, key_in_query: false}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.HideCredentials == nil || !*r.HideCredentials {
					t.Error("hide_credentials lost")
				}
			},
			report: "plugins.key-auth.hide_credentials=mapped@10", complete: true,
		},
		{
			name:    "key-auth key_in_body is not mapped",
			plugins: "      - name: key-auth\n        config:\n          key_in_body: true\n",
			report:  "plugins.key-auth.key_in_body=not mapped@11",
		},
		{
			name:    "acl allow and deny become the route's groups",
			plugins: "      - name: acl\n        config: {allow: [a, b], deny: [c], hide_groups_header: true}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if strings.Join(r.AllowGroups, ",") != "a,b" || strings.Join(r.DenyGroups, ",") != "c" {
					t.Errorf("allow %v deny %v", r.AllowGroups, r.DenyGroups)
				}
			},
			report: "plugins.acl=mapped@10", complete: true,
		},
		{
			name:    "request-size-limiting in kilobytes",
			plugins: "      - name: request-size-limiting\n        config: {allowed_payload_size: 64, size_unit: kilobytes}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.MaxBodyBytes != 64<<10 || r.RequireContentLength {
					t.Errorf("max %d rcl %v", r.MaxBodyBytes, r.RequireContentLength)
				}
			},
			report: "plugins.request-size-limiting=mapped@10", complete: true,
		},
		{
			name:    "request-size-limiting defaults to 128 megabytes",
			plugins: "      - name: request-size-limiting\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.MaxBodyBytes != 128<<20 {
					t.Errorf("max %d", r.MaxBodyBytes)
				}
			},
			complete: true,
		},
		{
			name:    "request-size-limiting with an unknown unit is not mapped",
			plugins: "      - name: request-size-limiting\n        config:\n          size_unit: gigabytes\n",
			report:  "plugins.request-size-limiting.size_unit=not mapped@11",
		},
		{
			name:    "request-validator body_schema becomes the route's body schema",
			plugins: "      - name: request-validator\n        config:\n          version: draft4\n          body_schema: '{\"type\": \"object\", \"required\": [\"name\"]}'\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				m, ok := r.BodySchema.(map[string]any)
				if !ok || m["type"] != "object" || r.ContentTypes[0] != "application/json" {
					t.Errorf("schema %v types %v", r.BodySchema, r.ContentTypes)
				}
			},
			report: "plugins.request-validator.version=mapped@11", complete: true,
		},
		{
			name:    "request-validator with a body_schema that is not JSON is not mapped",
			plugins: "      - name: request-validator\n        config:\n          body_schema: '{not json'\n",
			report:  "plugins.request-validator.body_schema=not mapped@11",
		},
		{
			name:    "request-validator parameter_schema is not mapped",
			plugins: "      - name: request-validator\n        config:\n          body_schema: '{}'\n          parameter_schema: []\n",
			report:  "plugins.request-validator.parameter_schema=not mapped@12",
		},
		{
			name:    "rate-limiting per minute and hour by ip",
			plugins: "      - name: rate-limiting\n        config: {minute: 60, hour: 1000, limit_by: ip, policy: redis}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if len(r.RateLimits) != 2 || r.RateLimits[0].Name != "per-minute" || r.RateLimits[0].Rate != 60 || r.RateLimits[0].Key[0] != "client_ip" || r.RateLimits[1].Per.Hours() != 1 {
					t.Errorf("limits %+v", r.RateLimits)
				}
			},
			report: "plugins.rate-limiting.policy=differs@10", complete: true,
		},
		{
			name:    "rate-limiting by path is not mapped",
			plugins: "      - name: rate-limiting\n        config:\n          minute: 5\n          limit_by: path\n",
			report:  "plugins.rate-limiting.limit_by=not mapped@12",
		},
		{
			name:    "cors",
			plugins: "      - name: cors\n        config: {origins: [\"https://a.example\"], methods: [GET], credentials: true, max_age: 600}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if c := r.CORS; c == nil || c.AllowOrigins[0] != "https://a.example" || !c.AllowCredentials || c.MaxAge.Minutes() != 10 {
					t.Errorf("cors %+v", r.CORS)
				}
			},
			report: "plugins.cors=mapped@10", complete: true,
		},
		{
			name:    "ip-restriction",
			plugins: "      - name: ip-restriction\n        config: {allow: [10.0.0.0/8], deny: [10.1.0.0/16]}\n",
			check: func(t *testing.T, r *migrate.Route, _ *migrate.Plan) {
				if r.IPAllow[0] != "10.0.0.0/8" || r.IPDeny[0] != "10.1.0.0/16" {
					t.Errorf("allow %v deny %v", r.IPAllow, r.IPDeny)
				}
			},
			report: "plugins.ip-restriction=mapped@10", complete: true,
		},
		{
			name:    "oauth2-introspection with a Basic authorization_value",
			plugins: "      - name: oauth2-introspection\n        config: {introspection_url: \"https://idp.example/introspect\", authorization_value: \"Basic Y2xpZW50OnMzY3JldA==\"}\n",
			check: func(t *testing.T, r *migrate.Route, p *migrate.Plan) {
				in := p.Introspection
				if in == nil || in.Endpoint != "https://idp.example/introspect" || in.ClientID != "client" || in.ClientSecret != "s3cret" || r.Authn[0] != "introspection" {
					t.Errorf("introspection %+v authn %v", in, r.Authn)
				}
			},
			report: "plugins.oauth2-introspection.introspection_url=mapped@10", complete: true,
		},
		{
			name:    "oauth2-introspection with a bearer authorization_value is not mapped",
			plugins: "      - name: oauth2-introspection\n        config:\n          introspection_url: https://idp.example/i\n          authorization_value: Bearer abc\n",
			report:  "plugins.oauth2-introspection.authorization_value=not mapped@12",
		},
		{
			name:     "correlation-id with Kong's header is a difference",
			plugins:  "      - name: correlation-id\n        config: {header_name: Kong-Request-ID, echo_downstream: true}\n",
			report:   "plugins.correlation-id.header_name=differs@10",
			complete: true,
		},
		{
			name:     "correlation-id on X-Request-ID maps",
			plugins:  "      - name: correlation-id\n        config: {header_name: X-Request-ID}\n",
			report:   "plugins.correlation-id=mapped@10",
			complete: true,
		},
		{
			name:    "an unknown plugin is reported with its line",
			plugins: "      - name: bot-detection\n        config: {allow: [x]}\n",
			report:  "plugins.bot-detection=not mapped@9",
		},
		{
			name:    "an unknown field of a known plugin is reported",
			plugins: "      - name: acl\n        config:\n          allow: [a]\n          hide_groups_header: true\n          frobnicate: 1\n",
			report:  "plugins.acl.config.frobnicate=not mapped@13",
		},
		{
			name:     "a disabled plugin is skipped",
			plugins:  "      - name: bot-detection\n        enabled: false\n",
			report:   "plugins.bot-detection=mapped@10",
			complete: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustImport(t, withService(tc.plugins))
			if len(p.Routes) != 1 {
				t.Fatalf("routes %+v", p.Routes)
			}
			if tc.check != nil {
				tc.check(t, &p.Routes[0], p)
			}
			if tc.report != "" {
				if !has(p, tc.report) {
					t.Errorf("no report item %s; report:\n%s", tc.report, dump(p))
				}
			}
			if p.Report.Complete() != tc.complete {
				t.Errorf("complete %v, want %v:\n%s", p.Report.Complete(), tc.complete, dump(p))
			}
		})
	}
}

func dump(p *migrate.Plan) string {
	var b strings.Builder
	for _, it := range p.Report {
		b.WriteString(it.What + "=" + string(it.Outcome) + "@" + strconv.Itoa(it.Line) + ": " + it.Detail + "\n")
	}
	return b.String()
}
