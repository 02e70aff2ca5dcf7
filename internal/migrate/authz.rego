# METADATA
# title: Imported access rules
# description: |
#   Written by `portcullis import`. Reproduces the input gateway's ACL and
#   consumer restrictions per route from data.portcullis.imported (see
#   MIGRATION.md); edit data.json rather than this file.
package portcullis.authz

routes := data.portcullis.imported.routes

rule := routes[input.route.name]

decision := {"allow": true} if {
	allow
} else := {"allow": false, "reasons": reasons}

reasons := r if {
	r := deny_reasons
	count(r) > 0
} else := {"denied"}

allow if {
	rule
	permitted
	count(deny_reasons) == 0
}

permitted if rule.anonymous

permitted if input.identity.authenticated

# consumer is the input gateway's consumer of the request: the API key's,
# or for a token the consumer whose JWT credential names the token's issuer
# (Kong's key_claim_name: iss, APISIX's credential key). The default keeps
# it defined: "not consumer in list" with an undefined consumer is not true
# in OPA, so an unknown issuer would pass a consumer allow-list.
default consumer := ""

consumer := input.identity.consumer if {
	input.identity.consumer != ""
} else := data.portcullis.imported.jwt_consumers[input.identity.issuer]

# groups come from the consumer data only, never from a token's own groups
# claim: the input gateway matched the groups it stored for the consumer,
# and a token must not be able to name its own. (The consumers object is
# the gateway's: policies cannot read it.)
groups contains g if {
	some g in data.portcullis.imported.consumer_groups[consumer]
}

deny_reasons contains "route_not_imported" if not rule

deny_reasons contains "authentication_required" if {
	not rule.anonymous
	not input.identity.authenticated
}

deny_reasons contains "group_not_allowed" if {
	rule.allow_groups
	not allowed_group
}

allowed_group if {
	some g in rule.allow_groups
	g in groups
}

deny_reasons contains "group_denied" if {
	some g in rule.deny_groups
	g in groups
}

deny_reasons contains "consumer_not_allowed" if {
	rule.allow_consumers
	not consumer in rule.allow_consumers
}

deny_reasons contains "consumer_denied" if consumer in rule.deny_consumers

deny_reasons contains "issuer_not_allowed" if {
	rule.issuers
	input.identity.method == "jwt"
	not input.identity.issuer in rule.issuers
}
