package portcullis.authz_test

import data.portcullis.authz

user := {"authenticated": true, "method": "jwt", "subject": "alice", "groups": ["admins", "users"], "scopes": ["users:read"], "claims": {"role": "admin", "tenant": "acme"}}

request := {"method": "GET", "path": "/api/v1", "segments": ["api", "v1"], "headers": {"user-agent": "curl"}, "query": {"page": ["2"]}}

test_user_allowed if {
	d := authz.decision with input as {"version": 1, "request": request, "identity": user, "route": {"name": "api"}}
	d.allow
	"admin" in d.reasons
	"segments" in d.reasons
}

test_anonymous_denied if {
	d := authz.decision with input as {"version": 1, "request": {"segments": []}, "identity": {"method": "anonymous", "claims": {}}}
	d.status == 401
}

test_forced_role if {
	authz.forced == "forced" with input as {"identity": {"claims": {}}}
}
