package decisionlog

import (
	"time"

	"github.com/portcullis/portcullis/policy"
)

// Event is what the gateway knows about one request outcome. Log turns it
// into one JSON line shaped like OPA's decision-log EventV1.
type Event struct {
	// DecisionID is the decision_id, also sent to the client. If empty,
	// Log generates a UUID.
	DecisionID string
	// Timestamp is when the decision was made. If zero, Options.Now is used.
	Timestamp time.Time
	// Path is the decision rule, OPA style: "portcullis/authz/decision".
	Path string
	// Input is the policy input: the gateway's *policy.Input (written as
	// the whole input document), an ast.Value, a plain Go value, or nil
	// (omitted, e.g. when no route matched).
	Input any
	// Result is the raw value of the decision rule, or nil.
	Result any
	// Bundles maps bundle name to its revision and content hash. A map
	// once logged must not be modified (the engine's never is): the Logger
	// keeps the encoding of the last one it saw, and reuses it for the
	// same map.
	Bundles map[string]policy.BundleID

	// Allow is the outcome; every non-allow outcome counts as a deny for sampling.
	Allow bool
	// Status is the HTTP status sent to the client.
	Status int
	// Reasons are stable reason codes.
	Reasons []string
	// Route is the route name; Subject, Consumer and AuthnMethod describe the caller.
	Route, Subject, Consumer, AuthnMethod string
	// Latency is the whole request; EvalDuration the Rego evaluation.
	Latency, EvalDuration time.Duration
	// UpstreamStatus is the upstream response status, or 0 if not forwarded.
	UpstreamStatus int
	// ForwardedPath is the escaped path sent upstream, byte for byte, or
	// "" if the request was not forwarded.
	ForwardedPath string
	// Cached is true when the decision came from the decision cache.
	Cached bool
	// Error describes why the decision failed (e.g. evaluation timeout),
	// safe to store: never token or key material.
	Error string
	// RequestedBy is the client address.
	RequestedBy string
	// RawPath is the request path as received, still escaped, when the
	// input has no canonical path (normalization rejected it or never ran):
	// portcullis.raw_path, at most MaxRawPath bytes of it
	// (portcullis.raw_path_truncated says it was cut).
	RawPath string
	// Credentials are the kinds and places of the credentials the request
	// presented, when authentication failed: portcullis.credentials.
	Credentials []Credential
	// RequestHeaders are the configured request headers the request had,
	// in any order (the line has them by name; a name given twice is
	// written once). A slice, not a map: the gateway fills it per request.
	RequestHeaders []Header
	// TraceID is the W3C trace ID, if any.
	TraceID string
	// Shadow, when set, makes this the event of a shadow decision that
	// differed from the enforced one: portcullis.shadow. The rest of the
	// event is the request's own, under the same decision_id.
	Shadow *Shadow
}

// Shadow is the decision of the candidate bundles (policy.shadow) for a
// request whose enforced decision it contradicts.
type Shadow struct {
	// Allow and Reasons are the shadow policy's decision.
	Allow   bool
	Reasons []string
	// Outcome is "allow_to_deny" or "deny_to_allow": enforced to shadow.
	Outcome string
	// Bundles are the candidate bundles' identities.
	Bundles map[string]policy.BundleID
}

// MaxRawPath bounds Event.RawPath in the event: a path refused for its
// length (414) must not make the log line as long.
const MaxRawPath = 2048

// Header is one request header of request_context.http.headers.
type Header struct {
	Name   string
	Values []string
}

// Credential is one credential a request presented, never its value.
type Credential struct {
	// Kind is "bearer", "api_key", or "other" (an Authorization header of
	// another scheme).
	Kind string
	// Source is "header", "query" or "cookie".
	Source string
}
