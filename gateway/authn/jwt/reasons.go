package jwt

// Reason codes of rejected tokens: stable, snake_case, one per cause. They
// become problem types, decision-log reasons and metric labels.
const (
	ReasonTooLarge         = "token_too_large"
	ReasonMalformed        = "token_malformed"
	ReasonJWE              = "jwe_not_supported"
	ReasonAlgNone          = "alg_none"
	ReasonAlgNotAllowed    = "alg_not_allowed"
	ReasonKeyAlgMismatch   = "key_alg_mismatch"
	ReasonUnknownKID       = "unknown_kid"
	ReasonBadSignature     = "bad_signature"
	ReasonExpired          = "token_expired"
	ReasonNotYetValid      = "token_not_yet_valid"
	ReasonIssuedInFuture   = "token_issued_in_future"
	ReasonTooOld           = "token_too_old"
	ReasonIssuerUnknown    = "issuer_unknown"
	ReasonAudienceMismatch = "audience_mismatch"
	ReasonClaimMissing     = "claim_missing"
	ReasonCritUnsupported  = "crit_unsupported"
	// ReasonTokenType is a JWT whose typ names another kind of JWT (a
	// logout token, a security event, a DPoP proof...), not an access token.
	ReasonTokenType = "token_type_not_allowed"
	// ReasonJWKSUnavailable is a 503: the issuer's keys cannot be had.
	ReasonJWKSUnavailable = "jwks_unavailable"
)
