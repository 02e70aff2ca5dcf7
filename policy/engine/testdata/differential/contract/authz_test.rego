package portcullis.authz_test

import data.portcullis.authz

at(kind) := {"request": {"method": "GET", "segments": [kind]}, "identity": {"method": "jwt", "groups": [], "claims": {"tenant": "acme"}}}

test_teapot if authz.decision.status == 418 with input as at("teapot")

test_deny_reasons_are_a_set if authz.decision.reasons == {"a", "b", "jwt"} with input as at("deny")

test_headers if authz.decision.headers == {"X-Tenant": "acme"} with input as at("headers")

test_bool if authz.decision with input as at("bool")

test_invalid_status if authz.decision.status == 500 with input as at("invalid")

test_undefined if not authz.decision with input as at("nothing")

test_envoy if {
	d := authz.decision with input as {"attributes": {"request": {"http": {"method": "GET"}}}, "parsed_path": ["envoy"], "request": {"segments": ["envoy"]}}
	d.allowed
}

test_literal_input if {
	not authz.decision.allow with input as {"request": {"segments": ["deny"]}, "identity": {"method": "api_key"}}
}
