# The role/ownership policy of configuration (i), the peer-style GET: a user
# reads only their own record (the subject against a path segment), an
# admin any. It reads the subject, so the decision cache holds one decision
# per user, as a real ownership check would.
package portcullis.authz

decision := {"allow": true} if {
	allow
} else := {"allow": false, "reasons": {"not_owner"}}

allow if {
	input.identity.method == "jwt"
	input.request.method == "GET"
	input.request.segments[2] == "users"
	input.request.segments[3] == input.identity.subject
	input.identity.claims.role in {"user", "admin"}
}

allow if {
	input.identity.method == "jwt"
	input.identity.claims.role == "admin"
}
