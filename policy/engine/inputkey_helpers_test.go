package engine

import "github.com/portcullis/portcullis/policy"

// appendInputKey is the key the decision cache of a policy that reads n
// (nil: the whole document) gives in.
func appendInputKey(b []byte, in *policy.Input, n *inputNeeds) ([]byte, bool) {
	return newKeyPlan(n).appendKey(b, in)
}
