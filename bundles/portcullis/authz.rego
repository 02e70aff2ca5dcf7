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

# One rule with else: the deny branch (and its reasons) is evaluated only
# when allow is undefined, never a second "not allow" pass. The read-only
# partner's plan is the "partner" rate-limit class of portcullis.yaml
# (5 requests per second), which replaces the route's own limits.
decision := {"allow": true, "rate_limit": {"class": "partner"}} if {
	allow
	input.identity.method == "api_key"
	"read-access" in input.identity.groups
} else := {"allow": true} if {
	allow
} else := {"allow": false, "reasons": reasons}

reasons := r if {
	r := deny_reasons
	count(r) > 0
} else := {"denied"}

# The allow rules, the most frequent first. Each token and API-key rule
# starts with an equality on input.identity.method, so OPA's rule index
# skips the rules that cannot match: a JWT request never evaluates the
# API-key rules, and the reverse.

allow if {
	input.identity.method == "jwt"
	token_allowed
}

allow if {
	input.identity.method == "introspection"
	token_allowed
}

allow if {
	input.identity.method == "api_key"
	input.identity.groups[_] == "full-access"
}

allow if {
	input.identity.method == "api_key"
	read_methods[input.request.method]
	input.identity.groups[_] == "read-access"
}

allow if public_route

# The hot path of the example, inlined: every helper rule costs an
# evaluation of its own. The set is the Kong ACL allow-list of the JWT route.
# Segments are compared in lower case: a case-insensitive backend (Express,
# ASP.NET, IIS) serves /api/v1/ADMIN as /api/v1/admin, so the policy must
# not let it pass as "not admin". (paths.lowercase makes the gateway
# forward the lower-case path as well.)
token_allowed if {
	input.identity.groups[_] in {"admin-group", "user-group"}
	lower(input.request.segments[0]) == "api"
	lower(input.request.segments[1]) == "v1"
	not lower(input.request.segments[2]) == "admin"
}

token_allowed if {
	in_jwt_group
	admin_path
	input.identity.claims.role == "admin"
}

in_jwt_group if input.identity.groups[_] in {"admin-group", "user-group"}

public_route if input.route.name == "public"

public_route if input.route.tags[_] == "public"

# Paths by their normalized segments: /api/v1 and everything below it.
users_api if {
	lower(input.request.segments[0]) == "api"
	lower(input.request.segments[1]) == "v1"
}

admin_path if {
	users_api
	lower(input.request.segments[2]) == "admin"
}

api_key if {
	input.identity.authenticated
	input.identity.method == "api_key"
}

token if {
	input.identity.authenticated
	input.identity.method in {"jwt", "introspection"}
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
