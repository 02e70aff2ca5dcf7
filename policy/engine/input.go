package engine

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// Keys of the input document. Terms are immutable once built, so every
// input object shares these instead of allocating its own.
var (
	kVersion       = ast.StringTerm("version")
	kRequest       = ast.StringTerm("request")
	kID            = ast.StringTerm("id")
	kMethod        = ast.StringTerm("method")
	kPath          = ast.StringTerm("path")
	kSegments      = ast.StringTerm("segments")
	kHost          = ast.StringTerm("host")
	kPort          = ast.StringTerm("port")
	kWireMethod    = ast.StringTerm("wire_method")
	kScheme        = ast.StringTerm("scheme")
	kQuery         = ast.StringTerm("query")
	kHeaders       = ast.StringTerm("headers")
	kRemoteAddr    = ast.StringTerm("remote_addr")
	kClientIP      = ast.StringTerm("client_ip")
	kBody          = ast.StringTerm("body")
	kBodyTruncated = ast.StringTerm("body_truncated")
	kRoute         = ast.StringTerm("route")
	kName          = ast.StringTerm("name")
	kOperationID   = ast.StringTerm("operation_id")
	kPathParams    = ast.StringTerm("path_params")
	kTags          = ast.StringTerm("tags")
	kIdentity      = ast.StringTerm("identity")
	kAuthenticated = ast.StringTerm("authenticated")
	kSubject       = ast.StringTerm("subject")
	kIssuer        = ast.StringTerm("issuer")
	kConsumer      = ast.StringTerm("consumer")
	kGroups        = ast.StringTerm("groups")
	kScopes        = ast.StringTerm("scopes")
	kClaims        = ast.StringTerm("claims")
	kKeyID         = ast.StringTerm("key_id")
	kCertificate   = ast.StringTerm("certificate")
	kSerial        = ast.StringTerm("serial")
	kFingerprint   = ast.StringTerm("fingerprint_sha256")
	kDNSNames      = ast.StringTerm("dns_names")
	kURIs          = ast.StringTerm("uris")
	kEmails        = ast.StringTerm("emails")
	kNotAfter      = ast.StringTerm("not_after")
	kValidation    = ast.StringTerm("validation")
	kValid         = ast.StringTerm("valid")
	kErrors        = ast.StringTerm("errors")
	kIn            = ast.StringTerm("in")
	kReason        = ast.StringTerm("reason")

	// OPA-Envoy compatible keys.
	kAttributes    = ast.StringTerm("attributes")
	kHTTP          = ast.StringTerm("http")
	kSize          = ast.StringTerm("size")
	kSource        = ast.StringTerm("source")
	kAddress       = ast.StringTerm("address")
	kSocketAddress = ast.StringTerm("socketAddress")
	kPortValue     = ast.StringTerm("portValue")
	kParsedPath    = ast.StringTerm("parsed_path")
	kParsedQuery   = ast.StringTerm("parsed_query")
	kParsedBody    = ast.StringTerm("parsed_body")
	kTruncatedBody = ast.StringTerm("truncated_body")

	versionTerm = ast.IntNumberTerm(policy.InputVersion)
)

// InputValue builds the input document (README "Input document") directly
// as an OPA value, without a JSON round trip:
//
//	{"version": 2,
//	 "request": {"id", "method", "wire_method", "path", "segments": [...], "host", "port", "scheme",
//	             "query": {k: [v, ...]}, "headers": {lower-case name: "comma-joined"},
//	             "remote_addr", "client_ip", "body" (only when set), "body_truncated" (only when
//	             the route asked for the body)},
//	 "route": {"name", "operation_id", "path_params": {}, "tags": []},
//	 "identity": {"authenticated", "method", "subject", "issuer", "consumer",
//	              "groups": [], "scopes": [], "claims": {}, "key_id",
//	              "certificate" (client_cert only): {"subject", "issuer", "serial",
//	                  "fingerprint_sha256", "dns_names": [], "uris": [], "emails": [], "not_after"}},
//	 "validation": {"valid", "errors": [{"name", "in", "reason"}]} (only when it ran)}
//
// With in.OPAEnvoy it adds OPA-Envoy's "attributes" (request.http and
// source.address.socketAddress), "parsed_path" (the normalized segments,
// never an unescaped raw path), "parsed_query", "parsed_body" and
// "truncated_body". A nil Identity is anonymous.
func InputValue(in *policy.Input) ast.Value {
	return inputValue(in, nil)
}

// inputValue builds the parts of the input document that n says the policy
// reads (all of it when n is nil); see InputValue.
func inputValue(in *policy.Input, n *inputNeeds) ast.Value {
	t := requestTerms{r: &in.Request}
	var kv pairs
	if n.field("version") != nil {
		kv.add(kVersion, versionTerm)
	}
	if f := n.field("request"); f != nil {
		kv.add(kRequest, t.request(f))
	}
	if f := n.field("route"); f != nil {
		kv.add(kRoute, routeTerm(&in.Route, f))
	}
	if f := n.field("identity"); f != nil {
		kv.add(kIdentity, identityTerm(in.Identity, f))
	}
	if in.Validation.Ran && n.field("validation") != nil {
		kv.add(kValidation, validationTerm(&in.Validation))
	}
	doc := kv.object()
	if in.OPAEnvoy {
		t.addOPAEnvoy(doc, n)
	}
	return doc
}

// pairs collects the key-value pairs of an object of at most 14 entries
// (the most of any object here, input.request), so that ast.NewObject
// allocates their elements in one block (Object.Insert allocates one per
// pair).
type pairs struct {
	a [14][2]*ast.Term
	n int
}

func (p *pairs) add(k, v *ast.Term) {
	p.a[p.n] = [2]*ast.Term{k, v}
	p.n++
}

func (p *pairs) object() ast.Object { return ast.NewObject(p.a[:p.n]...) }

// requestTerms builds the terms of input.request once each, as the
// OPA-Envoy fields share them.
type requestTerms struct {
	r                              *policy.Request
	segments, query, headers, body *ast.Term
}

func (t *requestTerms) segmentsTerm() *ast.Term {
	if t.segments == nil {
		t.segments = stringArray(t.r.Segments)
	}
	return t.segments
}

func (t *requestTerms) queryTerm() *ast.Term {
	if t.query == nil {
		t.query = queryObject(t.r.Query)
	}
	return t.query
}

func (t *requestTerms) headersTerm() *ast.Term {
	if t.headers == nil {
		t.headers = stringObject(t.r.Headers)
	}
	return t.headers
}

// bodyTerm is the parsed body, or nil when there is none.
func (t *requestTerms) bodyTerm() *ast.Term {
	if t.body == nil && t.r.Body != nil {
		t.body = ast.NewTerm(jsonValue(t.r.Body))
	}
	return t.body
}

func (t *requestTerms) request(f *inputNeeds) *ast.Term {
	r := t.r
	var req pairs
	for _, s := range [...]struct {
		key   *ast.Term
		value string
	}{{kID, r.ID}, {kMethod, r.Method}, {kWireMethod, r.WireMethod}, {kPath, r.Path}, {kHost, r.Host}, {kScheme, r.Scheme}, {kRemoteAddr, r.RemoteAddr}, {kClientIP, r.ClientIP}} {
		if f.has(string(s.key.Value.(ast.String))) {
			req.add(s.key, ast.StringTerm(s.value))
		}
	}
	if f.has("port") {
		req.add(kPort, ast.IntNumberTerm(r.Port))
	}
	if f.has("segments") {
		req.add(kSegments, t.segmentsTerm())
	}
	if q := f.field("query"); q != nil {
		if q.all {
			req.add(kQuery, t.queryTerm())
		} else {
			req.add(kQuery, queryObject(pick(t.r.Query, q)))
		}
	}
	if h := f.field("headers"); h != nil {
		if h.all {
			req.add(kHeaders, t.headersTerm())
		} else {
			req.add(kHeaders, stringObject(pick(t.r.Headers, h)))
		}
	}
	if f.has("body") {
		if body := t.bodyTerm(); body != nil {
			req.add(kBody, body)
		}
	}
	if f.has("body_truncated") && (r.Body != nil || r.BodyTruncated) {
		req.add(kBodyTruncated, ast.InternedTerm(r.BodyTruncated))
	}
	return ast.NewTerm(req.object())
}

// routeTerm is input.route, or the parts of it f needs.
func routeTerm(rt *policy.Route, f *inputNeeds) *ast.Term {
	var obj pairs
	if f.has("name") {
		obj.add(kName, ast.StringTerm(rt.Name))
	}
	if f.has("operation_id") {
		obj.add(kOperationID, ast.StringTerm(rt.OperationID))
	}
	if p := f.field("path_params"); p != nil {
		obj.add(kPathParams, stringObject(pick(rt.PathParams, p)))
	}
	if f.has("tags") {
		obj.add(kTags, stringArray(rt.Tags))
	}
	return ast.NewTerm(obj.object())
}

// identityTerm is input.identity, or the parts of it f needs. The whole
// term of an identity with a Memo is built once and serves every request.
func identityTerm(id *policy.Identity, f *inputNeeds) *ast.Term {
	if id == nil {
		id = policy.Anonymous()
	}
	if id.Memo != nil {
		// Terms are never modified once built, so one term serves every
		// request of the identity.
		return id.Memo.Get(func() any { return buildIdentityTerm(id, allOf) }).(*ast.Term)
	}
	return buildIdentityTerm(id, f)
}

func buildIdentityTerm(id *policy.Identity, f *inputNeeds) *ast.Term {
	var obj pairs
	if f.has("authenticated") {
		obj.add(kAuthenticated, ast.InternedTerm(id.Authenticated))
	}
	for _, s := range [...]struct {
		key   *ast.Term
		value string
	}{{kMethod, id.Method}, {kSubject, id.Subject}, {kIssuer, id.Issuer}, {kConsumer, id.Consumer}, {kKeyID, id.KeyID}} {
		if f.has(string(s.key.Value.(ast.String))) {
			obj.add(s.key, ast.StringTerm(s.value))
		}
	}
	if f.has("groups") {
		obj.add(kGroups, stringArray(id.Groups))
	}
	if f.has("scopes") {
		obj.add(kScopes, stringArray(id.Scopes))
	}
	if c := f.field("claims"); c != nil {
		obj.add(kClaims, ast.NewTerm(claimsValue(id.Claims, c)))
	}
	if c := id.Certificate; c != nil && f.has("certificate") {
		obj.add(kCertificate, certificateTerm(c))
	}
	return ast.NewTerm(obj.object())
}

// certificateTerm is input.identity.certificate; not_after is RFC 3339 in UTC.
func certificateTerm(c *policy.Certificate) *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{kSubject, ast.StringTerm(c.Subject)},
		[2]*ast.Term{kIssuer, ast.StringTerm(c.Issuer)},
		[2]*ast.Term{kSerial, ast.StringTerm(c.Serial)},
		[2]*ast.Term{kFingerprint, ast.StringTerm(c.FingerprintSHA256)},
		[2]*ast.Term{kDNSNames, stringArray(c.DNSNames)},
		[2]*ast.Term{kURIs, stringArray(c.URIs)},
		[2]*ast.Term{kEmails, stringArray(c.Emails)},
		[2]*ast.Term{kNotAfter, ast.StringTerm(c.NotAfter.UTC().Format(time.RFC3339))},
	)
}

// validTerm is the validation of most requests, built once: terms are
// never modified, so every input may share it.
var validTerm = ast.ObjectTerm(
	[2]*ast.Term{kValid, ast.InternedTerm(true)},
	[2]*ast.Term{kErrors, ast.ArrayTerm()},
)

func validationTerm(v *policy.Validation) *ast.Term {
	if v.Valid && len(v.Errors) == 0 {
		return validTerm
	}
	errs := make([]*ast.Term, len(v.Errors))
	for i, e := range v.Errors {
		errs[i] = ast.ObjectTerm(
			[2]*ast.Term{kName, ast.StringTerm(e.Name)},
			[2]*ast.Term{kIn, ast.StringTerm(e.In)},
			[2]*ast.Term{kReason, ast.StringTerm(e.Reason)},
		)
	}
	return ast.ObjectTerm(
		[2]*ast.Term{kValid, ast.InternedTerm(v.Valid)},
		[2]*ast.Term{kErrors, ast.ArrayTerm(errs...)},
	)
}

// addOPAEnvoy adds the OPA-Envoy shaped fields n needs, sharing the terms
// of input.request.
func (t *requestTerms) addOPAEnvoy(doc ast.Object, n *inputNeeds) {
	r := t.r
	var attrs pairs
	if n.reads("attributes", "request") {
		// Only the parts read: the request id and the client's port differ
		// on every request or connection, and the input is the decision
		// cache's key.
		http := ast.NewObject(
			[2]*ast.Term{kMethod, ast.StringTerm(r.Method)},
			[2]*ast.Term{kPath, ast.StringTerm(r.EnvoyPath())},
			[2]*ast.Term{kHost, ast.StringTerm(r.Host)},
			[2]*ast.Term{kScheme, ast.StringTerm(r.Scheme)},
			[2]*ast.Term{kHeaders, t.headersTerm()},
		)
		if n.reads("attributes", "request", "http", "id") {
			http.Insert(kID, ast.StringTerm(r.ID))
		}
		if r.RawBody != nil {
			http.Insert(kBody, ast.StringTerm(string(r.RawBody)))
			http.Insert(kSize, ast.IntNumberTerm(len(r.RawBody)))
		}
		attrs.add(kRequest, ast.ObjectTerm([2]*ast.Term{kHTTP, ast.NewTerm(http)}))
	}
	if n.reads("attributes", "source") {
		host, port, ok := r.EnvoySource()
		sock := ast.NewObject([2]*ast.Term{kAddress, ast.StringTerm(host)})
		if ok && n.reads("attributes", "source", "address", "socketAddress", "portValue") {
			sock.Insert(kPortValue, ast.IntNumberTerm(port))
		}
		attrs.add(kSource, ast.ObjectTerm([2]*ast.Term{kAddress, ast.ObjectTerm([2]*ast.Term{kSocketAddress, ast.NewTerm(sock)})}))
	}
	if attrs.n > 0 {
		doc.Insert(kAttributes, ast.NewTerm(attrs.object()))
	}
	if n.field("parsed_path") != nil {
		doc.Insert(kParsedPath, t.segmentsTerm())
	}
	if n.field("parsed_query") != nil {
		doc.Insert(kParsedQuery, t.queryTerm())
	}
	if n.field("parsed_body") != nil {
		body := t.bodyTerm()
		if body == nil {
			body = ast.NullTerm()
		}
		doc.Insert(kParsedBody, body)
	}
	if n.field("truncated_body") != nil {
		doc.Insert(kTruncatedBody, ast.InternedTerm(r.BodyTruncated))
	}
}

// pick returns m, or when n needs only some keys, a map of those of them
// that m has (a JWT carries many claims; a policy reads a few).
func pick[V any](m map[string]V, n *inputNeeds) map[string]V {
	if n.all || len(m) == 0 {
		return m
	}
	out := make(map[string]V, len(n.keys))
	for k := range n.keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// claimsValue is the claims c needs, converted straight from the
// identity's map.
func claimsValue(claims map[string]any, c *inputNeeds) ast.Value {
	if c.all {
		return jsonValue(claims)
	}
	obj := ast.NewObjectWithCapacity(len(c.keys))
	for k := range c.keys {
		if v, ok := claims[k]; ok {
			obj.Insert(ast.StringTerm(k), ast.NewTerm(jsonValue(v)))
		}
	}
	return obj
}

func stringArray(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

func stringObject(m map[string]string) *ast.Term {
	obj := ast.NewObjectWithCapacity(len(m))
	for k, v := range m {
		obj.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
	return ast.NewTerm(obj)
}

func queryObject(q map[string][]string) *ast.Term {
	obj := ast.NewObjectWithCapacity(len(q))
	for k, vs := range q {
		obj.Insert(ast.StringTerm(k), stringArray(vs))
	}
	return ast.NewTerm(obj)
}

// jsonValue converts JSON-like Go values (the parsed body, verified claims)
// to an OPA value. Numbers and other types go through ast.InterfaceToValue,
// which validates json.Number strings; a value
// that cannot be represented becomes null rather than failing the request.
func jsonValue(x any) ast.Value {
	switch v := x.(type) {
	case nil:
		return ast.Null{}
	case string:
		return ast.String(v)
	case bool:
		return ast.Boolean(v)
	case []any:
		ts := make([]*ast.Term, len(v))
		for i, e := range v {
			ts[i] = ast.NewTerm(jsonValue(e))
		}
		return ast.NewArray(ts...)
	case map[string]any:
		obj := ast.NewObjectWithCapacity(len(v))
		for k, e := range v {
			obj.Insert(ast.StringTerm(k), ast.NewTerm(jsonValue(e)))
		}
		return obj
	case []string:
		return stringArray(v).Value
	}
	val, err := ast.InterfaceToValue(x)
	if err != nil {
		return ast.Null{}
	}
	return val
}
