package portcullis.authz_test

import data.portcullis.authz

# The gateway sends the normalized path and its segments.
req(method, path) := {"method": method, "path": path, "segments": split(trim(path, "/"), "/")}

anonymous := {"authenticated": false, "method": "anonymous", "groups": [], "claims": {}}

read_key := {"authenticated": true, "method": "api_key", "consumer": "read-only-partner", "groups": ["read-access"], "claims": {}}

full_key := {"authenticated": true, "method": "api_key", "consumer": "internal-service", "groups": ["full-access"], "claims": {}}

user_token := {"authenticated": true, "method": "jwt", "subject": "alice", "groups": ["user-group"], "claims": {"role": "user"}}

admin_token := {"authenticated": true, "method": "jwt", "subject": "root", "groups": ["admin-group"], "claims": {"role": "admin"}}

outsider_token := {"authenticated": true, "method": "jwt", "subject": "eve", "groups": ["guests"], "claims": {}}

api_route := {"name": "api", "tags": []}

test_public_route_allows_anonymous if {
	authz.decision.allow with input as {"request": req("GET", "/status"), "route": {"name": "public", "tags": []}, "identity": anonymous}
}

test_public_tag_allows_anonymous if {
	authz.decision.allow with input as {"request": req("GET", "/docs"), "route": {"name": "docs", "tags": ["public"]}, "identity": anonymous}
}

test_anonymous_on_protected_route_is_denied if {
	d := authz.decision with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": anonymous}
	not d.allow
	"authentication_required" in d.reasons
}

test_read_key_may_get if {
	authz.decision.allow with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": read_key}
}

test_read_key_is_on_the_partner_plan if {
	d := authz.decision with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": read_key}
	d.rate_limit == {"class": "partner"}
}

test_other_callers_keep_the_routes_limits if {
	d := authz.decision with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": user_token}
	d == {"allow": true}
	f := authz.decision with input as {"request": req("POST", "/api/v1/users"), "route": api_route, "identity": full_key}
	f == {"allow": true}
}

test_read_key_may_head if {
	authz.decision.allow with input as {"request": req("HEAD", "/api/v1/users"), "route": api_route, "identity": read_key}
}

test_read_key_may_not_post if {
	d := authz.decision with input as {"request": req("POST", "/api/v1/users"), "route": api_route, "identity": read_key}
	not d.allow
	d.reasons == {"read_only_consumer"}
}

test_full_key_may_post if {
	authz.decision.allow with input as {"request": req("POST", "/api/v1/users"), "route": api_route, "identity": full_key}
}

test_full_key_may_delete if {
	authz.decision.allow with input as {"request": req("DELETE", "/api/v1/users/7"), "route": api_route, "identity": full_key}
}

test_user_token_may_read_and_write_users if {
	authz.decision.allow with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": user_token}
	authz.decision.allow with input as {"request": req("POST", "/api/v1/users"), "route": api_route, "identity": user_token}
}

test_user_token_may_not_use_admin if {
	d := authz.decision with input as {"request": req("GET", "/api/v1/admin/settings"), "route": api_route, "identity": user_token}
	not d.allow
	d.reasons == {"admin_role_required"}
}

test_admin_token_may_use_admin if {
	authz.decision.allow with input as {"request": req("GET", "/api/v1/admin/settings"), "route": api_route, "identity": admin_token}
}

# A case-insensitive backend serves every spelling of /api/v1/admin as the
# admin API: none of them may pass as a users-API path.
admin_spellings := ["/api/v1/ADMIN", "/api/v1/Admin", "/API/V1/ADMIN/settings", "/Api/V1/aDmIn", "/api/V1/admin"]

test_user_token_may_not_use_admin_in_any_case if {
	every path in admin_spellings {
		d := authz.decision with input as {"request": req("GET", path), "route": api_route, "identity": user_token}
		not d.allow
		d.reasons == {"admin_role_required"}
	}
}

test_admin_token_may_use_admin_in_any_case if {
	every path in admin_spellings {
		authz.decision.allow with input as {"request": req("GET", path), "route": api_route, "identity": admin_token}
	}
}

test_users_api_in_upper_case_is_the_users_api if {
	authz.decision.allow with input as {"request": req("GET", "/API/V1/users"), "route": api_route, "identity": user_token}
	d := authz.decision with input as {"request": req("GET", "/API/V2/users"), "route": api_route, "identity": user_token}
	d.reasons == {"path_not_allowed"}
}

test_admin_prefix_is_a_whole_segment if {
	authz.decision.allow with input as {"request": req("GET", "/api/v1/administrators"), "route": api_route, "identity": user_token}
}

test_token_outside_acl_groups_is_denied if {
	d := authz.decision with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": outsider_token}
	not d.allow
	d.reasons == {"group_not_allowed"}
}

test_token_outside_users_api_is_denied if {
	d := authz.decision with input as {"request": req("GET", "/internal/metrics"), "route": api_route, "identity": user_token}
	not d.allow
	d.reasons == {"path_not_allowed"}
}

test_admin_role_without_group_is_denied if {
	token := object.union(outsider_token, {"claims": {"role": "admin"}})
	d := authz.decision with input as {"request": req("GET", "/api/v1/admin"), "route": api_route, "identity": token}
	not d.allow
}

test_api_key_without_acl_group_is_denied if {
	key := object.union(read_key, {"groups": []})
	d := authz.decision with input as {"request": req("GET", "/api/v1/users"), "route": api_route, "identity": key}
	not d.allow
	d.reasons == {"group_not_allowed"}
}
