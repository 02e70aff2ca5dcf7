# METADATA
# description: |
#   Decision-log masking (OPA semantics: input is the whole event). The
#   example erases a password in a policy-visible request body.
package system.log

mask contains "/input/request/body/password"
