package pipeline

import (
	"context"
	"net/http"
	"time"

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

// State is the per-request state every stage reads and adds to. It is
// created by the server before the pipeline runs and read by the decision
// log after it ends, so every outcome is recorded with what was known.
type State struct {
	Start time.Time
	// Input accumulates the policy input: request and route at entry,
	// identity after authentication, validation after validation.
	Input policy.Input
	// DecisionID identifies the outcome in the decision log; it is sent to
	// the client as X-Decision-Id and replaces the engine's own id.
	DecisionID string
	// RawPath is the path of the request target as received, still
	// escaped (see server.arrive); the decision log records it when no
	// canonical path was made.
	RawPath string
	// Presented are the credentials the request carried, recorded by the
	// authentication stage when it fails (values never).
	Presented []Presented
	// Decision is set by the authorization stage.
	Decision *policy.Decision
	// Reason is the stable code of the outcome ("allow", "token_expired", ...).
	Reason string
	// Status is the status sent to the client.
	Status int
	// UpstreamStatus is the status the upstream answered, 0 if not contacted.
	UpstreamStatus int
	// Upstream is the base URL the request was sent to.
	Upstream string
	// ForwardedPath is the escaped path of the upstream request, exactly
	// as the transport writes it on the wire (set by the proxy).
	ForwardedPath string
	// Forwarded is when the proxy began forwarding the request (zero if the
	// gateway answered itself); the time before it is the gateway's own.
	Forwarded time.Time
	// UpstreamLatency is the time from Forwarded to the upstream's response
	// headers, or to the exchange's failure.
	UpstreamLatency time.Duration
	// Relayed is when the proxy was done with the exchange: the response
	// copied to the client, or the exchange failed. The time after it is
	// the gateway's own again.
	Relayed time.Time
	// ProxyErr is the error of the upstream exchange, set by the proxy.
	ProxyErr error
	// ResponseHeaders are added to the response to the client, whatever the outcome.
	ResponseHeaders http.Header
	// SetHeaders are set on the upstream request after hop-by-hop headers are
	// removed, so a client's Connection header can never remove them.
	SetHeaders http.Header
	// DelHeaders are removed from the upstream request.
	DelHeaders []string
	// Body is the buffered request body, when a stage needed to read it.
	// BodyRead tells whether it was read; the proxy then sends Body.
	Body     []byte
	BodyRead bool
	// PlainBody is Body after Content-Encoding is undone (the same slice
	// when the body is not encoded); validation and the policy read it.
	PlainBody []byte
	// Rejection is the problem validation found. The validation stage runs
	// before authorization and only records it; it is sent after the policy
	// allows (so a denied request gets 401/403 whatever its body), unless
	// the route's mode is report.
	Rejection error
}

// SetHeader queues a header for the upstream request.
func (s *State) SetHeader(name, value string) {
	if s.SetHeaders == nil {
		s.SetHeaders = make(http.Header, 4)
	}
	s.SetHeaders.Set(name, value)
}
