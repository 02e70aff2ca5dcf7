# The allow-all policy of configurations (a) and (b): the cheapest decision,
# so those rows measure proxying and authentication, not Rego.
package portcullis.authz

decision := {"allow": true}
