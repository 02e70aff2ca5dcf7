package migrate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// identity is a test identity of the generated Rego tests.
type identity struct {
	label    string
	method   string
	consumer string // API-key consumer
	issuer   string
	// groups are the identity's own groups (a token's claim), which the
	// policy must ignore.
	groups []string
}

// testIdentities are every consumer's credentials, plus a token of an
// unknown issuer that claims every group, and the anonymous identity.
func testIdentities(p *Plan) []identity {
	var all []string
	for _, c := range p.Consumers {
		all = append(all, c.Groups...)
	}
	var out []identity
	for _, c := range p.Consumers {
		if len(c.Keys) > 0 {
			out = append(out, identity{label: c.Name + "_key", method: "api_key", consumer: c.Name, groups: c.Groups})
		}
		for _, iss := range c.Issuers {
			out = append(out, identity{label: c.Name + "_token", method: "jwt", issuer: iss, groups: all})
		}
	}
	out = append(out, identity{label: "unknown_issuer_token", method: "jwt", issuer: "https://unknown.invalid", groups: all})
	return append(out, identity{label: "anonymous", method: "anonymous"})
}

// expect is the Go model of authz.rego: whether the input gateway let id
// through r. The generated tests hold the Rego to it.
func expect(p *Plan, r *Route, id identity) bool {
	if id.method == "anonymous" {
		return len(r.Authn) == 0
	}
	consumer := id.consumer
	if consumer == "" {
		for _, c := range p.Consumers {
			if slices.Contains(c.Issuers, id.issuer) {
				consumer = c.Name
			}
		}
	}
	var groups []string
	for _, c := range p.Consumers {
		if c.Name == consumer {
			groups = c.Groups
		}
	}
	has := func(list []string) bool {
		return slices.ContainsFunc(list, func(g string) bool { return slices.Contains(groups, g) })
	}
	switch {
	case len(r.AllowGroups) > 0 && !has(r.AllowGroups), has(r.DenyGroups):
		return false
	case len(r.AllowConsumers) > 0 && !slices.Contains(r.AllowConsumers, consumer), consumer != "" && slices.Contains(r.DenyConsumers, consumer):
		return false
	case len(r.Issuers) > 0 && id.method == "jwt" && !slices.Contains(r.Issuers, id.issuer):
		return false
	}
	return true
}

// regoTests writes authz_test.rego: for every route and test identity, the
// decision the input gateway would have made.
func regoTests(p *Plan, routes []expanded) string {
	var b strings.Builder
	b.WriteString("# Written by `portcullis import`: one test per route and credential of the input.\n")
	b.WriteString("package portcullis.authz_test\n\nimport data.portcullis.authz\n\n")
	b.WriteString("test_unknown_route_is_denied if {\n\td := authz.decision with input as {\"route\": {\"name\": \"not-imported\"}, \"request\": {\"method\": \"GET\"}, \"identity\": {\"authenticated\": true, \"method\": \"api_key\", \"consumer\": \"x\", \"issuer\": \"\", \"groups\": []}}\n\tnot d.allow\n}\n")
	ids := testIdentities(p)
	for _, er := range routes {
		for _, id := range ids {
			allowed := expect(p, er.r, id)
			verb := "denied"
			if allowed {
				verb = "allowed"
			}
			in := map[string]any{
				"route":   map[string]any{"name": er.name},
				"request": map[string]any{"method": "GET"},
				"identity": map[string]any{
					"authenticated": id.method != "anonymous", "method": id.method,
					"consumer": id.consumer, "issuer": id.issuer, "groups": nonNil(id.groups),
				},
			}
			js, _ := json.Marshal(in)
			fmt.Fprintf(&b, "\ntest_%s_%s_%s if {\n\td := authz.decision with input as %s\n", ident(er.name), ident(id.label), verb, js)
			if allowed {
				b.WriteString("\td.allow\n}\n")
			} else {
				b.WriteString("\tnot d.allow\n}\n")
			}
		}
	}
	return b.String()
}

// ident makes s a Rego identifier part.
func ident(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
