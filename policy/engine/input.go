package engine

import (
	"net"
	"net/url"
	"strconv"

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
	kScheme        = ast.StringTerm("scheme")
	kQuery         = ast.StringTerm("query")
	kHeaders       = ast.StringTerm("headers")
	kRemoteAddr    = ast.StringTerm("remote_addr")
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
//	{"version": 1,
//	 "request": {"id", "method", "path", "segments": [...], "host", "scheme",
//	             "query": {k: [v, ...]}, "headers": {lower-case name: "comma-joined"},
//	             "remote_addr", "body" (only when set), "body_truncated" (only when
//	             the route asked for the body)},
//	 "route": {"name", "operation_id", "path_params": {}, "tags": []},
//	 "identity": {"authenticated", "method", "subject", "issuer", "consumer",
//	              "groups": [], "scopes": [], "claims": {}, "key_id"},
//	 "validation": {"valid", "errors": [{"name", "in", "reason"}]}}
//
// With in.OPAEnvoy it adds OPA-Envoy's "attributes" (request.http and
// source.address.socketAddress), "parsed_path" (the normalized segments,
// never an unescaped raw path), "parsed_query", "parsed_body" and
// "truncated_body". A nil Identity is anonymous.
func InputValue(in *policy.Input) ast.Value {
	r := &in.Request
	segments := stringArray(r.Segments)
	query := queryObject(r.Query)
	headers := stringObject(r.Headers)
	var body *ast.Term
	if r.Body != nil {
		body = ast.NewTerm(jsonValue(r.Body))
	}

	req := ast.NewObject(
		[2]*ast.Term{kID, ast.StringTerm(r.ID)},
		[2]*ast.Term{kMethod, ast.StringTerm(r.Method)},
		[2]*ast.Term{kPath, ast.StringTerm(r.Path)},
		[2]*ast.Term{kSegments, segments},
		[2]*ast.Term{kHost, ast.StringTerm(r.Host)},
		[2]*ast.Term{kScheme, ast.StringTerm(r.Scheme)},
		[2]*ast.Term{kQuery, query},
		[2]*ast.Term{kHeaders, headers},
		[2]*ast.Term{kRemoteAddr, ast.StringTerm(r.RemoteAddr)},
	)
	if body != nil {
		req.Insert(kBody, body)
	}
	if body != nil || r.BodyTruncated {
		req.Insert(kBodyTruncated, ast.InternedTerm(r.BodyTruncated))
	}

	doc := ast.NewObject(
		[2]*ast.Term{kVersion, versionTerm},
		[2]*ast.Term{kRequest, ast.NewTerm(req)},
		[2]*ast.Term{kRoute, routeTerm(&in.Route)},
		[2]*ast.Term{kIdentity, identityTerm(in.Identity)},
		[2]*ast.Term{kValidation, validationTerm(&in.Validation)},
	)
	if in.OPAEnvoy {
		addOPAEnvoy(doc, r, segments, query, headers, body)
	}
	return doc
}

func routeTerm(rt *policy.Route) *ast.Term {
	return ast.ObjectTerm(
		[2]*ast.Term{kName, ast.StringTerm(rt.Name)},
		[2]*ast.Term{kOperationID, ast.StringTerm(rt.OperationID)},
		[2]*ast.Term{kPathParams, stringObject(rt.PathParams)},
		[2]*ast.Term{kTags, stringArray(rt.Tags)},
	)
}

func identityTerm(id *policy.Identity) *ast.Term {
	if id == nil {
		id = policy.Anonymous()
	}
	if id.Memo != nil {
		// Terms are never modified once built, so one term serves every
		// request of a cached identity.
		return id.Memo.Get(func() any { return buildIdentityTerm(id) }).(*ast.Term)
	}
	return buildIdentityTerm(id)
}

func buildIdentityTerm(id *policy.Identity) *ast.Term {
	claims := ast.NewTerm(ast.NewObject())
	if len(id.Claims) > 0 {
		claims = ast.NewTerm(jsonValue(id.Claims))
	}
	return ast.ObjectTerm(
		[2]*ast.Term{kAuthenticated, ast.InternedTerm(id.Authenticated)},
		[2]*ast.Term{kMethod, ast.StringTerm(id.Method)},
		[2]*ast.Term{kSubject, ast.StringTerm(id.Subject)},
		[2]*ast.Term{kIssuer, ast.StringTerm(id.Issuer)},
		[2]*ast.Term{kConsumer, ast.StringTerm(id.Consumer)},
		[2]*ast.Term{kGroups, stringArray(id.Groups)},
		[2]*ast.Term{kScopes, stringArray(id.Scopes)},
		[2]*ast.Term{kClaims, claims},
		[2]*ast.Term{kKeyID, ast.StringTerm(id.KeyID)},
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

// addOPAEnvoy adds the OPA-Envoy shaped fields, sharing the already built
// terms of input.request.
func addOPAEnvoy(doc ast.Object, r *policy.Request, segments, query, headers, body *ast.Term) {
	path := r.Path
	if len(r.Query) > 0 {
		// The gateway keeps the parsed query only; this is its canonical
		// (sorted, re-escaped) encoding.
		path += "?" + url.Values(r.Query).Encode()
	}
	http := ast.NewObject(
		[2]*ast.Term{kID, ast.StringTerm(r.ID)},
		[2]*ast.Term{kMethod, ast.StringTerm(r.Method)},
		[2]*ast.Term{kPath, ast.StringTerm(path)},
		[2]*ast.Term{kHost, ast.StringTerm(r.Host)},
		[2]*ast.Term{kScheme, ast.StringTerm(r.Scheme)},
		[2]*ast.Term{kHeaders, headers},
	)
	if r.RawBody != nil {
		http.Insert(kBody, ast.StringTerm(string(r.RawBody)))
		http.Insert(kSize, ast.IntNumberTerm(len(r.RawBody)))
	}
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host, port = r.RemoteAddr, ""
	}
	sock := ast.NewObject([2]*ast.Term{kAddress, ast.StringTerm(host)})
	if p, err := strconv.Atoi(port); err == nil {
		sock.Insert(kPortValue, ast.IntNumberTerm(p))
	}
	attrs := ast.ObjectTerm(
		[2]*ast.Term{kRequest, ast.ObjectTerm([2]*ast.Term{kHTTP, ast.NewTerm(http)})},
		[2]*ast.Term{kSource, ast.ObjectTerm([2]*ast.Term{kAddress, ast.ObjectTerm([2]*ast.Term{kSocketAddress, ast.NewTerm(sock)})})},
	)
	if body == nil {
		body = ast.NullTerm()
	}
	doc.Insert(kAttributes, attrs)
	doc.Insert(kParsedPath, segments)
	doc.Insert(kParsedQuery, query)
	doc.Insert(kParsedBody, body)
	doc.Insert(kTruncatedBody, ast.InternedTerm(r.BodyTruncated))
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
