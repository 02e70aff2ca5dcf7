# Every form of the decision contract, chosen by the first path segment.
package portcullis.authz

kind := input.request.segments[0]

decision := {"allow": false, "status": 418, "reasons": ["short_and_stout"], "response_headers": {"X-Teapot": "yes"}} if kind == "teapot"

decision := {"allow": false, "reasons": {"b", "a", input.identity.method}} if kind == "deny"

decision := {"allow": true, "headers": {"X-Tenant": object.get(input.identity.claims, "tenant", "none")}, "response_headers": {"X-Why": "tenant"}} if kind == "headers"

decision := {"allow": conflict == 1} if kind == "error"

decision := {"allow": true, "status": 500} if kind == "invalid"

decision := true if kind == "bool"

decision := {"allow": true, "status": 403, "reasons": []} if kind == "allow_status"

decision := {"allow": 1 / count(input.identity.groups) > 0} if kind == "divide"

decision := {
	"allowed": input.attributes.request.http.method == "GET",
	"http_status": 451,
	"body": sprintf("%v", [input.parsed_path]),
	"headers": {"x-ext": "1"},
	"response_headers_to_add": {"x-envoy": "seen"},
	"request_headers_to_remove": ["x-internal"],
} if kind == "envoy"

decision := {"allow": true, "headers": {"bad name": "x"}} if kind == "bad_header"

decision := {"allow": true, "headers": {"x-bad": "a\nb"}} if kind == "bad_value"

decision := {"allowed": true, "request_headers_to_remove": {"bad name"}} if kind == "bad_remove"

decision := {"allow": "yes"} if kind == "not_boolean"

decision := {"allow": false, "status": 404.0, "reasons": [1]} if kind == "bad_reasons"

# Two values for one complete rule: an eval_conflict_error at run time.
conflict := 1 if kind == "error"

conflict := 2 if kind == "error"
