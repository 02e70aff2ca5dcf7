# METADATA
# description: |
#   Decision-log masking (OPA semantics: input is the whole event). The
#   example erases a password in a policy-visible request body. The rule is
#   conditional so that events without a password get no mask op: the
#   decision log then writes them without copying the input.
package system.log

mask contains "/input/request/body/password" if input.input.request.body.password
