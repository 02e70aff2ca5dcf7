# METADATA
# title: Example Portcullis authorization policy
# description: |
#   Reproduces the Kong example: public routes are open, API-key consumers
#   are scoped by ACL group (read-access may GET/HEAD, full-access may do
#   anything), and JWT identities in admin-group or user-group may use the
#   users API, with /api/v1/admin reserved for the "admin" role claim.
#   Deny reasons are stable strings; the gateway answers 401 for anonymous
#   identities and 403 otherwise.
package portcullis.authz

read_methods := {"GET", "HEAD"}

# The Kong ACL allow-list of the JWT route.
jwt_groups := {"admin-group", "user-group"}

token_methods := {"jwt", "introspection"}

default allow := false

# One rule with else: the deny branch (and its reasons) is evaluated only
# when allow is undefined, never a second "not allow" pass.
decision := {"allow": true} if {
	allow
} else := {"allow": false, "reasons": reasons}

reasons := r if {
	r := deny_reasons
	count(r) > 0
} else := {"denied"}

public_route if "public" in input.route.tags

public_route if input.route.name == "public"

users_api if input.request.path == "/api/v1"

users_api if startswith(input.request.path, "/api/v1/")

admin_path if input.request.path == "/api/v1/admin"

admin_path if startswith(input.request.path, "/api/v1/admin/")

api_key if {
	input.identity.authenticated
	input.identity.method == "api_key"
}

token if {
	input.identity.authenticated
	input.identity.method in token_methods
}

in_jwt_group if {
	some g in input.identity.groups
	g in jwt_groups
}

# Every allow rule starts with an equality on the input, so OPA's rule
# index skips the rules that cannot match (a JWT request never evaluates
# the API-key rules, and the reverse).
allow if input.route.name == "public"

allow if "public" in input.route.tags

allow if {
	input.identity.method == "api_key"
	"full-access" in input.identity.groups
}

allow if {
	input.identity.method == "api_key"
	read_methods[input.request.method]
	"read-access" in input.identity.groups
}

allow if {
	input.identity.method == "jwt"
	token_allowed
}

allow if {
	input.identity.method == "introspection"
	token_allowed
}

token_allowed if {
	users_api
	not admin_path
	in_jwt_group
}

token_allowed if {
	admin_path
	input.identity.claims.role == "admin"
	in_jwt_group
}

deny_reasons contains "authentication_required" if {
	not public_route
	not input.identity.authenticated
}

deny_reasons contains "read_only_consumer" if {
	api_key
	"read-access" in input.identity.groups
	not "full-access" in input.identity.groups
	not input.request.method in read_methods
}

deny_reasons contains "group_not_allowed" if {
	api_key
	not "read-access" in input.identity.groups
	not "full-access" in input.identity.groups
}

deny_reasons contains "group_not_allowed" if {
	token
	not in_jwt_group
}

deny_reasons contains "path_not_allowed" if {
	token
	not users_api
}

deny_reasons contains "admin_role_required" if {
	token
	admin_path
	not input.identity.claims.role == "admin"
}
