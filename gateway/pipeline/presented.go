package pipeline

// Presented is the kind and source of a credential a request carried,
// without its value, as in [Credential]: what the decision log records of
// a failed authentication, so that "a bad API key in the header" can be
// told from "a bearer token in the query" without storing either.
type Presented struct {
	// Kind is "bearer", "api_key", "client_cert" or "other" (an
	// Authorization header of another scheme).
	Kind string
	// Source is "header", "query", "cookie" or "tls".
	Source string
}
