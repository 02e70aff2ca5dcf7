package pipeline

import (
	"context"

	"github.com/portcullis/portcullis/policy"
)

// Credential is what a request presented to authenticate. Value is secret:
// it is never logged, put in a metric or in the policy input.
type Credential struct {
	// Kind is "bearer" or "api_key".
	Kind string
	// Source is "header", "query" or "cookie".
	Source string
	Value  string
}

// Authenticator verifies one kind of credential.
// It returns ErrNoCredential when the credential is not of its kind (the
// next authenticator is tried), a *problem.Problem with status 401 when the
// credential is of its kind but invalid, and any other error (or a 503
// problem) when it cannot decide, e.g. the key server is down; that fails closed.
type Authenticator interface {
	Authenticate(ctx context.Context, cred Credential) (*policy.Identity, error)
}
