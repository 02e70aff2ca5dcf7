# Reads the input document in the ways input pruning and the decision
# cache must get right: single keys, whole sections, computed keys, the
# route section, import aliases, with, functions, comprehensions, data.
package portcullis.authz

import input.identity as id

default role := "none"

role := id.claims.role

default tenant := {}

tenant := data.portcullis.tenants[id.claims.tenant]

header(name) := object.get(input.request.headers, name, "-")

page := to_number(input.request.query.page[0])

grouped := {g | some g in id.groups; startswith(g, "a")}

sections := count(input.request.segments) + count(input.route)

default body_name := ""

body_name := input.request.body.name

default validation := null

validation := input.validation

default valid := "unset"

valid := input.validation.valid

segment_ok if {
	some i, s in input.request.segments
	s == tenant.paths[i]
}

forced := r if {
	r := role with input.identity.claims.role as "forced"
}

every_scope_read if every s in id.scopes {
	endswith(s, ":read")
}

envoy_ok if input.attributes.request.http.headers["x-env"] == "prod"

envoy_ok if input.parsed_query.env == ["prod"]

reasons contains r if {
	some r in [
		sprintf("role=%v", [role]),
		sprintf("plan=%v", [object.get(tenant, "plan", "-")]),
		sprintf("ua=%v", [header("user-agent")]),
		sprintf("grouped=%v", [grouped]),
		sprintf("sections=%v", [sections]),
		sprintf("forced=%v", [forced]),
		sprintf("body=%v", [body_name]),
		sprintf("claims=%v", [count(id.claims)]),
		sprintf("valid=%v", [valid]),
		sprintf("route=%v/%v/%v", [object.get(input.route, "name", ""), object.get(input.route, "operation_id", ""), object.get(input.route, ["path_params", "id"], "")]),
	]
}

reasons contains sprintf("page=%v", [page]) if page > 1

reasons contains "segments" if segment_ok

reasons contains "scopes" if every_scope_read

reasons contains "envoy" if envoy_ok

reasons contains sprintf("port=%v", [input.attributes.source.address.socketAddress.portValue])

reasons contains sprintf("truncated=%v", [input.request.body_truncated])

reasons contains "admin" if {
	some k, v in id.claims
	k == "role"
	v == "admin"
}

decision := {
	"allow": role != "none",
	"reasons": reasons,
	"headers": {"x-role": role},
	"response_headers": {"x-hash": sprintf("%d", [count(json.marshal(validation))])},
} if {
	input.version == 1
	id.method != "anonymous"
}

decision := {"allow": false, "status": 401, "reasons": reasons} if id.method == "anonymous"
