package problem

import "net/http"

// Reason is the stable code of a request's outcome ("allow", "token_expired",
// ...): the reason of a problem, the first reason of a decision-log event and
// the suffix of a problem's type URI. Every code the gateway produces is
// declared in [Codes]; a test fails for a code used anywhere else.
type Reason string

// The outcomes that are not problems a stage returns: the server derives
// them where the request finishes (see pipeline.Settle).
const (
	ReasonAllow           Reason = "allow"
	ReasonInternal        Reason = "internal_error"
	ReasonClientClosed    Reason = "client_closed"
	ReasonResponseAborted Reason = "response_aborted"
)

// StatusClientClosed is logged (never sent) when the client went away.
const StatusClientClosed = 499

// Code describes one reason code.
type Code struct {
	Reason Reason
	// Status is the HTTP status of the outcome. For a policy deny it is the
	// status when the policy chose none and the caller is authenticated
	// (an anonymous caller gets 401).
	Status int
	// Meaning is a one-line explanation for operators.
	Meaning string
	// Where names the stage or package that returns it.
	Where string
}

// codes is the one declaration of every reason code, in the order of the
// request's path through the gateway.
var codes = []Code{
	{ReasonAllow, http.StatusOK, "the policy allowed the request and the upstream answered (any upstream status)", "server"},
	{"framing_ambiguous", http.StatusBadRequest, "Content-Length and Transfer-Encoding together, or Content-Length fields that disagree", "listener"},
	{"framing_invalid", http.StatusBadRequest, "a Content-Length that is not a number, a repeated Transfer-Encoding, Transfer-Encoding on HTTP/1.0", "listener"},
	{"transfer_encoding_unsupported", http.StatusNotImplemented, "a transfer coding other than chunked", "listener"},
	{"head_malformed", http.StatusBadRequest, "a request line or header field that does not parse exactly one way", "listener"},
	{"headers_too_large", http.StatusRequestHeaderFieldsTooLarge, "a request head over listen.max_header_bytes", "listener"},
	{"http_version_unsupported", http.StatusHTTPVersionNotSupported, "an HTTP version other than 1.0, 1.1 and 2", "listener"},
	{"decision_log_full", http.StatusServiceUnavailable, "the decision log cannot take more events and is set to fail closed", "server"},
	{"policy_unavailable", http.StatusServiceUnavailable, "a url bundle was never downloaded and none is persisted: no policy to decide with", "server"},
	{"too_many_headers", http.StatusRequestHeaderFieldsTooLarge, "more header fields than limits.max_headers", "body"},
	{"query_too_long", http.StatusRequestURITooLong, "a query string over limits.max_query_bytes", "body"},
	{"uri_too_long", http.StatusRequestURITooLong, "a request target over limits.max_url_bytes", "body"},
	{"header_name_rejected", http.StatusBadRequest, "a header name with an underscore", "header"},
	{"method_override_rejected", http.StatusBadRequest, "a method-override header or parameter", "header"},
	{"method_override_invalid", http.StatusBadRequest, "a method override that is not one method", "header"},
	{"upgrade_refused", http.StatusForbidden, "a protocol upgrade the route does not allow", "header"},
	{"connect_refused", http.StatusMethodNotAllowed, "a CONNECT request: the gateway does not tunnel", "header"},
	{"host_rejected", http.StatusBadRequest, "a Host that is not a valid host[:port]", "header"},
	{"host_mismatch", http.StatusBadRequest, "a Host header that disagrees with the request's authority", "header"},
	{"path_rejected", http.StatusBadRequest, "a request path that does not normalize under paths", "server"},
	{"method_not_allowed", http.StatusMethodNotAllowed, "no route, or no OpenAPI operation, takes this method on this path (with Allow)", "server, validate"},
	{"no_route", http.StatusNotFound, "no route matches the request", "server"},
	{"ip_denied", http.StatusForbidden, "the client address is in the route's ip_deny, or not in its ip_allow (before authentication)", "ipfilter"},
	{"cors_preflight", http.StatusNoContent, "a CORS preflight the route's cors allows, answered by the gateway (never reaches authentication or the upstream)", "cors"},
	{"cors_rejected", http.StatusForbidden, "a CORS preflight whose origin, method or headers the route's cors does not allow (no CORS headers)", "cors"},
	{"body_too_large", http.StatusRequestEntityTooLarge, "a body over limits.max_body_bytes, decompressed size included", "body"},
	{"encoding_not_allowed", http.StatusUnsupportedMediaType, "a Content-Encoding the route does not accept", "body"},
	{"length_required", http.StatusLengthRequired, "a body without Content-Length where it is required", "body"},
	{"auth_throttled", http.StatusTooManyRequests, "the client address failed authentication rate_limit.auth_failures.max_failures times within window: blocked for block_for, credentials unchecked (Retry-After)", "ratelimit"},
	{"credential_ambiguous", http.StatusUnauthorized, "more than one credential, or one repeated", "authn"},
	{"credential_malformed", http.StatusUnauthorized, "a credential that does not parse (other Authorization schemes included)", "authn"},
	{"credential_missing", http.StatusUnauthorized, "no credential on a route that needs one", "authn"},
	{"credential_unsupported", http.StatusUnauthorized, "a bearer token of a kind no enabled method verifies", "authn"},
	{"method_not_allowed_on_route", http.StatusUnauthorized, "a credential of a method the route does not enable", "authn"},
	{"authn_unavailable", http.StatusServiceUnavailable, "a verifier could not decide (fail closed)", "authn"},
	{"token_too_large", http.StatusUnauthorized, "a token over the size cap", "authn/jwt, authn/introspect"},
	{"token_malformed", http.StatusUnauthorized, "a JWT that does not parse, or a claim of the wrong type", "authn/jwt"},
	{"jwe_not_supported", http.StatusUnauthorized, "an encrypted token (JWE)", "authn/jwt"},
	{"alg_none", http.StatusUnauthorized, "an unsigned token", "authn/jwt"},
	{"alg_not_allowed", http.StatusUnauthorized, "a signature algorithm the issuer does not allow", "authn/jwt"},
	{"key_alg_mismatch", http.StatusUnauthorized, "an algorithm that does not fit the signing key (RS/HS confusion)", "authn/jwt"},
	{"unknown_kid", http.StatusUnauthorized, "a kid not in the issuer's key set after a refetch", "authn/jwt"},
	{"bad_signature", http.StatusUnauthorized, "a signature that does not verify", "authn/jwt"},
	{"token_expired", http.StatusUnauthorized, "exp has passed (JWT or introspected token)", "authn/jwt, authn/introspect"},
	{"token_not_yet_valid", http.StatusUnauthorized, "nbf is in the future", "authn/jwt, authn/introspect"},
	{"token_issued_in_future", http.StatusUnauthorized, "iat is in the future", "authn/jwt"},
	{"token_too_old", http.StatusUnauthorized, "iat is older than the issuer's max_age", "authn/jwt"},
	{"issuer_unknown", http.StatusUnauthorized, "an iss no configured issuer has", "authn/jwt"},
	{"audience_mismatch", http.StatusUnauthorized, "an aud the issuer does not accept", "authn/jwt"},
	{"claim_missing", http.StatusUnauthorized, "a required claim is absent", "authn/jwt"},
	{"crit_unsupported", http.StatusUnauthorized, "critical header parameters", "authn/jwt"},
	{"token_type_not_allowed", http.StatusUnauthorized, "a typ or token_type that is not an access token", "authn/jwt, authn/introspect"},
	{"jwks_unavailable", http.StatusServiceUnavailable, "the issuer's keys cannot be had", "authn/jwt"},
	{"token_inactive", http.StatusUnauthorized, "the introspection endpoint says active: false", "authn/introspect"},
	{"token_issuer_mismatch", http.StatusUnauthorized, "an introspected token of another issuer", "authn/introspect"},
	{"token_audience_mismatch", http.StatusUnauthorized, "an introspected token for another audience", "authn/introspect"},
	{"introspection_unavailable", http.StatusServiceUnavailable, "the introspection endpoint cannot be reached or answers badly", "authn/introspect"},
	{"api_key_invalid", http.StatusUnauthorized, "an API key not in the consumer index", "authn/apikey"},
	{"api_key_expired", http.StatusUnauthorized, "an API key past its expires_at", "authn/apikey"},
	{"api_key_not_yet_valid", http.StatusUnauthorized, "an API key before its not_before", "authn/apikey"},
	{"api_keys_unavailable", http.StatusServiceUnavailable, "the consumer index is not loaded or invalid", "authn/apikey"},
	{"client_cert_unknown", http.StatusUnauthorized, "a verified client certificate that no entry of the client_certs table maps", "authn/clientcert"},
	{"client_cert_untrusted", http.StatusUnauthorized, "a client certificate whose CA is no longer in listen.tls_client_ca_file (a connection opened before the rotation)", "authn/clientcert"},
	{"client_cert_expired", http.StatusUnauthorized, "a client certificate past its validity on a connection opened while it was valid", "authn/clientcert"},
	{"client_certs_unavailable", http.StatusServiceUnavailable, "the client certificate mappings are not loaded", "authn/clientcert"},
	{"buffer_budget_exhausted", http.StatusServiceUnavailable, "buffering the body would exceed limits.max_buffered_bytes", "body"},
	{"body_unreadable", http.StatusBadRequest, "the body could not be read from the client", "body"},
	{"encoding_invalid", http.StatusBadRequest, "a gzip body that does not decompress", "body"},
	{"content_type_ambiguous", http.StatusBadRequest, "a Content-Type that names more than one media type", "body"},
	{"json_too_deep", http.StatusBadRequest, "a JSON body nested deeper than limits.max_json_depth", "body"},
	{"json_too_many_keys", http.StatusBadRequest, "a JSON body with more keys or items than limits.max_json_keys", "body"},
	{"json_duplicate_key", http.StatusBadRequest, "a JSON object with a repeated member", "body"},
	{"json_trailing_data", http.StatusBadRequest, "data after the JSON value", "body"},
	{"validation_failed", http.StatusBadRequest, "the request does not match the OpenAPI operation (invalid_params)", "validate"},
	{"unknown_operation", http.StatusNotFound, "no OpenAPI operation for this method and path", "validate"},
	{"unsupported_media_type", http.StatusUnsupportedMediaType, "a body media type the operation does not accept", "validate"},
	{"policy_deny", http.StatusForbidden, "the policy denied (401 for an anonymous caller; the policy may choose the status)", "authz"},
	{"policy_undefined", http.StatusForbidden, "the decision is undefined: a deny", "authz (policy/engine)"},
	{"policy_invalid_result", http.StatusForbidden, "the decision is not of the expected shape: a deny", "authz (policy/engine)"},
	{"policy_error", http.StatusForbidden, "the evaluation failed: a deny", "authz (policy/engine)"},
	{"policy_timeout", http.StatusForbidden, "the evaluation exceeded policy.timeout: a deny", "authz (policy/engine)"},
	{"rate_limited", http.StatusTooManyRequests, "a rate limit of the route (or of the class the decision chose) is exhausted (Retry-After, RateLimit-Policy, RateLimit)", "ratelimit"},
	{"rate_limit_unavailable", http.StatusServiceUnavailable, "rate_limit.redis cannot answer and on_error is deny", "ratelimit"},
	{"upstream_unavailable", http.StatusBadGateway, "the upstream could not be reached (refused connections eject it)", "proxy"},
	{"upstream_tls_failed", http.StatusBadGateway, "TLS with the upstream failed: its certificate did not verify, it refused the client certificate, or no common version", "proxy"},
	{"upstream_timeout", http.StatusGatewayTimeout, "the upstream did not answer within the route's timeout", "proxy"},
	{ReasonClientClosed, StatusClientClosed, "the client went away before the answer (logged, never sent)", "server"},
	{ReasonResponseAborted, http.StatusOK, "the response was cut after its head was sent (the status is what was sent)", "server"},
	{ReasonInternal, http.StatusInternalServerError, "a stage failed unexpectedly or panicked", "server"},
}

var byReason = func() map[Reason]Code {
	m := make(map[Reason]Code, len(codes))
	for _, c := range codes {
		if _, dup := m[c.Reason]; dup {
			panic("problem: reason " + string(c.Reason) + " declared twice")
		}
		m[c.Reason] = c
	}
	return m
}()

// Codes returns every reason code the gateway produces.
func Codes() []Code { return append([]Code(nil), codes...) }

// Lookup returns the declaration of r.
func Lookup(r Reason) (Code, bool) {
	c, ok := byReason[r]
	return c, ok
}
