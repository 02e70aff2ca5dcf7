// Package policy holds the contract between the gateway and Rego policies: the input document and the decision.
package policy

import (
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// InputVersion is input.version. It changes only when a field of the input
// document changes meaning or disappears; new fields do not bump it.
const InputVersion = 2

// Authentication methods, as they appear in input.identity.method.
const (
	MethodJWT           = "jwt"
	MethodIntrospection = "introspection"
	MethodAPIKey        = "api_key"
	MethodClientCert    = "client_cert"
	MethodAnonymous     = "anonymous"
)

// Identity is the result of authentication. The zero value is not valid;
// use Anonymous() for a request without credentials.
type Identity struct {
	Authenticated bool
	Method        string
	Subject       string
	Issuer        string
	Consumer      string
	Groups        []string
	Scopes        []string
	// Claims are the verified JWT claims or the introspection response
	// fields. They never include the token itself.
	Claims map[string]any
	// KeyID identifies the API key (its configured id) or the JWT signing key (kid).
	KeyID string
	// ExpiresAt is when the credential stops being valid; zero if unknown.
	ExpiresAt time.Time
	// Certificate describes the verified client certificate of a
	// client_cert identity (input.identity.certificate); nil otherwise.
	Certificate *Certificate
	// Memo, when not nil, is shared by all copies of an identity that an
	// authenticator keeps for its lifetime (an API key's); the policy engine
	// keeps the identity's input value there, so it is converted once, not
	// per request. Identities of size-bounded token caches have none: a
	// value per cached token would multiply the garbage collector's work.
	// An identity with a Memo must not be modified.
	Memo *Memo
	// JSON, when not nil, is shared by all copies of an identity that a
	// token cache hands out (a verified JWT's, an introspection
	// response's): the decision log keeps there the JSON of the whole
	// identity object (input.identity), claims included, so the identity
	// of a cached token is encoded once, not per event, and an event copies
	// one run of bytes instead of reading the identity's scattered strings
	// and slices. Unlike the value a Memo holds, the encoding is bytes
	// without pointers, which the garbage collector does not scan however
	// many tokens are cached. An identity with JSON must not be modified.
	// The cell's second part (Encoded.GetParts) holds the event's
	// portcullis.subject, consumer and authn members, written from
	// Subject, Consumer and Method: a field of their own would grow every
	// request's exchange, which holds an Identity.
	JSON *Encoded
}

// Certificate is input.identity.certificate: the fields of a verified
// client certificate (the leaf of its chain) a policy may read. The
// certificate itself never enters the input or the log.
type Certificate struct {
	// Subject and Issuer are distinguished names as x509.Name.String
	// writes them (RFC 2253 order); Serial is lower-case hex.
	Subject, Issuer, Serial string
	// FingerprintSHA256 is "sha256:" and the lower-case hex SHA-256 of the
	// DER certificate.
	FingerprintSHA256 string
	// DNSNames, URIs (a SPIFFE ID is one) and Emails are the subject
	// alternative names.
	DNSNames, URIs, Emails []string
	// NotAfter ends the certificate's validity.
	NotAfter time.Time
}

// Memo holds one value derived from an immutable object, computed once.
type Memo struct {
	once sync.Once
	v    any
}

// Get returns the memoized value, calling build the first time.
func (m *Memo) Get(build func() any) any {
	m.once.Do(func() { m.v = build() })
	return m.v
}

// Encoded holds the encoding of an immutable value, made once by its
// first reader, in one or two parts. It keeps no error (an interface
// would be one more pointer in every cached token): an encoding that
// failed is not kept.
type Encoded struct {
	once sync.Once
	ok   bool
	b    []byte
	n    int // b[:n] is the first part, b[n:] the second
}

// Get returns the encoding (the first part, if it was made in two),
// calling encode the first time. The bytes are shared by every caller:
// read-only. If that first encode fails, every call encodes again and
// gets its own error.
func (e *Encoded) Get(encode func() ([]byte, error)) ([]byte, error) {
	head, _, err := e.GetParts(func() ([]byte, int, error) {
		b, err := encode()
		return b, len(b), err
	})
	return head, err
}

// GetParts is Get of an encoding in two parts: encode returns both
// written in one run of bytes and the length of the first, so a reader of
// both copies from one place. A value encoded by Get has an empty second
// part.
func (e *Encoded) GetParts(encode func() ([]byte, int, error)) (head, tail []byte, err error) {
	e.once.Do(func() {
		e.b, e.n, err = encode()
		e.ok = err == nil
	})
	switch {
	case e.ok:
		return e.b[:e.n], e.b[e.n:], nil
	case err != nil:
		return nil, nil, err
	}
	b, n, err := encode()
	if err != nil {
		return nil, nil, err
	}
	return b[:n], b[n:], nil
}

// Anonymous returns the identity of a request that carried no credential.
func Anonymous() *Identity {
	return &Identity{Method: MethodAnonymous}
}

// Request is input.request.
type Request struct {
	ID     string
	Method string
	// Path is the normalized path exactly as it is forwarded upstream
	// (before strip_prefix), and Segments is Path split on "/".
	Path     string
	Segments []string
	// WireMethod is the method of the request line; Method differs from it
	// only under request.method_override "judge", when the request carried
	// an override (Method is then the overridden method).
	WireMethod string
	// Host is the normalized host routing matched: lower case, without a
	// trailing dot or the port. Port is the authority's port, or the
	// scheme's default (80, 443) when it names none.
	Host   string
	Port   int
	Scheme string
	Query  map[string][]string
	// Headers have lower-case names and comma-joined values; credentials
	// (Authorization, the API-key header, Cookie) are never present.
	Headers    map[string]string
	RemoteAddr string
	// ClientIP is the client's address: the peer's, or behind
	// listen.trusted_proxies the right-most untrusted hop of
	// X-Forwarded-For (Forwarded without it); "" when the peer has no IP
	// address.
	ClientIP string
	// Body is the parsed JSON body when the route opts in (policy.input_body)
	// and the body was read within the limit; nil otherwise.
	Body any
	// BodyTruncated is true when the route asked for the body but it could
	// not be given to the policy (not JSON, or not read).
	BodyTruncated bool
	// RawBody is the buffered body, used only for the OPA-Envoy compatible
	// attributes.request.http.body string.
	RawBody []byte
}

// EnvoyPath is OPA-Envoy's attributes.request.http.path: the path with the
// query. The gateway keeps the parsed query only, so this is its canonical
// (sorted, re-escaped) encoding.
func (r *Request) EnvoyPath() string {
	if len(r.Query) == 0 {
		return r.Path
	}
	return r.Path + "?" + url.Values(r.Query).Encode()
}

// EnvoySource is OPA-Envoy's attributes.source.address.socketAddress: the
// client's address, and its port when RemoteAddr has a numeric one (ok).
func (r *Request) EnvoySource() (address string, port int, ok bool) {
	host, p, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, 0, false
	}
	port, err = strconv.Atoi(p)
	return host, port, err == nil
}

// Route is input.route.
type Route struct {
	Name        string
	OperationID string
	PathParams  map[string]string
	Tags        []string
}

// ValidationError is one entry of input.validation.errors.
type ValidationError struct {
	// Name is a JSON pointer into the body ("/email") or a parameter name.
	Name string
	// In is "body", "path", "query", "header" or "request".
	In     string
	Reason string
}

// Validation is input.validation. It is in the input document only when
// Ran: a route without an OpenAPI document, or a request that ended before
// validation, has no input.validation (never a "valid" nobody checked).
type Validation struct {
	// Ran is true when the request was validated; the zero value means it was not.
	Ran    bool
	Valid  bool
	Errors []ValidationError
}

// Input is the whole input document.
type Input struct {
	Request    Request
	Route      Route
	Identity   *Identity
	Validation Validation
	// OPAEnvoy adds the OPA-Envoy shaped fields (attributes, parsed_path,
	// parsed_query, parsed_body, truncated_body) to the document.
	OPAEnvoy bool
}

// Decision is the normalized answer of the decision rule.
type Decision struct {
	Allow bool
	// Status is the HTTP status of a deny chosen by the policy (4xx only), or 0.
	Status  int
	Reasons []string
	// Headers are added to the upstream request on allow.
	Headers map[string]string
	// RemoveHeaders are removed from the upstream request on allow (OPA-Envoy request_headers_to_remove).
	RemoveHeaders []string
	// ResponseHeaders are added to the response to the client.
	ResponseHeaders map[string]string
	// Body is the response body of a deny chosen by the policy (OPA-Envoy body).
	Body string
	// RateLimitClass is the rate_limit.classes entry whose limits replace
	// the route's own ("rate_limit": {"class": NAME}); "" keeps the route's.
	RateLimitClass string
	// Bundles maps bundle name to the identity of the bundles that decided.
	Bundles map[string]BundleID
	// Result is the raw value of the decision rule, for the decision log.
	Result any
	// Err is set when the decision is a deny because evaluation failed
	// (undefined, malformed result, error, timeout).
	Err  error
	Eval time.Duration
	// Cached is true when the decision came from the decision cache (Eval
	// is then the lookup).
	Cached bool
}

// BundleID identifies one bundle: its manifest revision ("" when it has
// none) and its content hash, a hex SHA-256 of what was loaded (exact even
// when revisions are not maintained).
type BundleID struct {
	Revision string `json:"revision"`
	Hash     string `json:"hash"`
}

// MaskOp is one result of a decision-log mask rule, with the semantics of
// OPA's data.system.log.mask: Op "remove" erases Path, "upsert" sets it to Value.
type MaskOp struct {
	Op    string
	Path  string
	Value any
}
