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
	// Bundles maps bundle name to its revision and content hash.
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
	// RequestHeaders are the configured request headers, by name.
	RequestHeaders map[string][]string
	// TraceID is the W3C trace ID, if any.
	TraceID string
}

// MaxRawPath bounds Event.RawPath in the event: a path refused for its
// length (414) must not make the log line as long.
const MaxRawPath = 2048

// Credential is one credential a request presented, never its value.
type Credential struct {
	// Kind is "bearer", "api_key", or "other" (an Authorization header of
	// another scheme).
	Kind string
	// Source is "header", "query" or "cookie".
	Source string
}
