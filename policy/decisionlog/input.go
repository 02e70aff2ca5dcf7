package decisionlog

import (
	"strconv"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// appendInput appends the input document of in as JSON: the document the
// policy engine evaluates (engine.InputValue, README "Input document"),
// keys in the sorted order OPA writes them, but written straight from the
// Go values. The engine gives the policy only the parts it reads; the log
// always gets all of it. A nil Identity is null: the request was rejected
// before authentication, which is not an anonymous identity.
func appendInput(b []byte, in *policy.Input) ([]byte, error) {
	if in.Route.Name == "" {
		return appendArrival(b, &in.Request), nil
	}
	r := &in.Request
	var err error
	b = append(b, '{')
	if in.OPAEnvoy {
		b = appendEnvoyAttributes(append(b, `"attributes":`...), r)
		b = append(b, ',')
	}
	b = append(b, `"identity":`...)
	if b, err = appendIdentity(b, in.Identity); err != nil {
		return b, err
	}
	if in.OPAEnvoy {
		b = append(b, `,"parsed_body":`...)
		if b, err = appendJSON(b, r.Body); err != nil { // nil is null
			return b, err
		}
		b = appendStrings(append(b, `,"parsed_path":`...), r.Segments)
		b = appendQuery(append(b, `,"parsed_query":`...), r.Query)
	}
	b = append(b, `,"request":`...)
	if b, err = appendRequest(b, r); err != nil {
		return b, err
	}
	b = appendRoute(append(b, `,"route":`...), &in.Route)
	if in.OPAEnvoy {
		b = strconv.AppendBool(append(b, `,"truncated_body":`...), r.BodyTruncated)
	}
	if in.Validation.Ran {
		b = appendValidation(append(b, `,"validation":`...), &in.Validation)
	}
	b = strconv.AppendInt(append(b, `,"version":`...), policy.InputVersion, 10)
	return append(b, '}'), nil
}

// appendArrival writes the input of a request that no route took (no
// route, a limit, a rejected path): no policy ran, so there is no document
// it judged, only what the gateway knew of the request when it refused it.
// Headers and the query are left out: without a route the gateway cannot
// tell which of them carry credentials. An empty path (no canonical path
// was made) is left out too; the event's portcullis.raw_path has the
// path as received.
func appendArrival(b []byte, r *policy.Request) []byte {
	b = append(b, `{"identity":null,"request":{`...)
	if r.ClientIP != "" {
		b = appendString(append(b, `"client_ip":`...), r.ClientIP)
		b = append(b, ',')
	}
	b = appendString(append(b, `"host":`...), r.Host)
	b = appendString(append(b, `,"id":`...), r.ID)
	b = appendWord(append(b, `,"method":`...), r.Method)
	if r.Path != "" {
		b = appendString(append(b, `,"path":`...), r.Path)
	}
	b = appendString(append(b, `,"remote_addr":`...), r.RemoteAddr)
	b = appendWord(append(b, `,"scheme":`...), r.Scheme)
	b = strconv.AppendInt(append(b, `},"route":null,"version":`...), policy.InputVersion, 10)
	return append(b, '}')
}

func appendRequest(b []byte, r *policy.Request) ([]byte, error) {
	b = append(b, '{')
	if r.Body != nil {
		var err error
		if b, err = appendJSON(append(b, `"body":`...), r.Body); err != nil {
			return b, err
		}
		b = append(b, ',')
	}
	if r.Body != nil || r.BodyTruncated {
		b = strconv.AppendBool(append(b, `"body_truncated":`...), r.BodyTruncated)
		b = append(b, ',')
	}
	b = appendString(append(b, `"client_ip":`...), r.ClientIP)
	b = appendStringMap(append(b, `,"headers":`...), r.Headers)
	b = appendString(append(b, `,"host":`...), r.Host)
	b = appendString(append(b, `,"id":`...), r.ID)
	b = appendWord(append(b, `,"method":`...), r.Method)
	b = appendString(append(b, `,"path":`...), r.Path)
	b = strconv.AppendInt(append(b, `,"port":`...), int64(r.Port), 10)
	b = appendQuery(append(b, `,"query":`...), r.Query)
	b = appendString(append(b, `,"remote_addr":`...), r.RemoteAddr)
	b = appendWord(append(b, `,"scheme":`...), r.Scheme)
	b = appendStrings(append(b, `,"segments":`...), r.Segments)
	b = appendWord(append(b, `,"wire_method":`...), r.WireMethod)
	return append(b, '}'), nil
}

// appendRoute writes input.route, its name, operation id and tags copied
// from routes when it has them.
func appendRoute(b []byte, rt *policy.Route) []byte {
	if e := routes.get(rt); e != nil {
		return append(appendStringMap(append(b, e.head...), rt.PathParams), e.tail...)
	}
	return appendRouteTail(appendStringMap(appendRouteHead(b, rt), rt.PathParams), rt)
}

// appendRouteHead writes input.route up to the path parameters' value.
func appendRouteHead(b []byte, rt *policy.Route) []byte {
	b = appendString(append(b, `{"name":`...), rt.Name)
	b = appendString(append(b, `,"operation_id":`...), rt.OperationID)
	return append(b, `,"path_params":`...)
}

// appendRouteTail writes input.route after the path parameters.
func appendRouteTail(b []byte, rt *policy.Route) []byte {
	return append(appendStrings(append(b, `,"tags":`...), rt.Tags), '}')
}

// appendIdentity writes input.identity. A cached token's identity (JSON
// set) is encoded by its first event and the same bytes copied by every
// later one: they are one contiguous run, where the fields are strings and
// slices spread over the heap, each a likely cache miss under load. Erase
// pointers and mask rules work on a decoded copy of the input (toJSON),
// never on these bytes.
func appendIdentity(b []byte, id *policy.Identity) ([]byte, error) {
	switch {
	case id == nil:
		return append(b, "null"...), nil
	case id.JSON != nil:
		j, _, err := identityParts(id)
		if err != nil {
			return b, err
		}
		return append(b, j...), nil
	}
	return appendIdentityFields(b, id)
}

// identityParts returns the two parts of a cached identity's cell: the
// identity object and the event's caller members (appendCaller).
func identityParts(id *policy.Identity) (object, caller []byte, err error) {
	return id.JSON.GetParts(func() ([]byte, int, error) {
		b, err := appendIdentityFields(nil, id)
		if err != nil {
			return nil, 0, err
		}
		n := len(b)
		return appendCallerFields(b, id.Subject, id.Consumer, id.Method), n, nil
	})
}

// appendIdentityFields writes the identity object field by field.
func appendIdentityFields(b []byte, id *policy.Identity) ([]byte, error) {
	b = strconv.AppendBool(append(b, `{"authenticated":`...), id.Authenticated)
	if c := id.Certificate; c != nil {
		b = appendCertificate(append(b, `,"certificate":`...), c)
	}
	b = append(b, `,"claims":`...)
	if len(id.Claims) == 0 {
		b = append(b, "{}"...)
	} else {
		var err error
		if b, err = appendJSON(b, id.Claims); err != nil {
			return b, err
		}
	}
	b = appendString(append(b, `,"consumer":`...), id.Consumer)
	b = appendStrings(append(b, `,"groups":`...), id.Groups)
	b = appendString(append(b, `,"issuer":`...), id.Issuer)
	b = appendString(append(b, `,"key_id":`...), id.KeyID)
	b = appendString(append(b, `,"method":`...), id.Method)
	b = appendStrings(append(b, `,"scopes":`...), id.Scopes)
	b = appendString(append(b, `,"subject":`...), id.Subject)
	return append(b, '}'), nil
}

// appendCertificate writes input.identity.certificate as the engine builds
// it (policy/engine certificateTerm), keys sorted.
func appendCertificate(b []byte, c *policy.Certificate) []byte {
	b = appendStrings(append(b, `{"dns_names":`...), c.DNSNames)
	b = appendStrings(append(b, `,"emails":`...), c.Emails)
	b = appendString(append(b, `,"fingerprint_sha256":`...), c.FingerprintSHA256)
	b = appendString(append(b, `,"issuer":`...), c.Issuer)
	b = appendString(append(b, `,"not_after":`...), c.NotAfter.UTC().Format(time.RFC3339))
	b = appendString(append(b, `,"serial":`...), c.Serial)
	b = appendString(append(b, `,"subject":`...), c.Subject)
	b = appendStrings(append(b, `,"uris":`...), c.URIs)
	return append(b, '}')
}

func appendValidation(b []byte, v *policy.Validation) []byte {
	b = append(b, `{"errors":[`...)
	for i, e := range v.Errors {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(b, `{"in":`...), e.In)
		b = appendString(append(b, `,"name":`...), e.Name)
		b = appendString(append(b, `,"reason":`...), e.Reason)
		b = append(b, '}')
	}
	b = strconv.AppendBool(append(b, `],"valid":`...), v.Valid)
	return append(b, '}')
}

// appendEnvoyAttributes writes OPA-Envoy's attributes: request.http and
// source.address.socketAddress.
func appendEnvoyAttributes(b []byte, r *policy.Request) []byte {
	b = append(b, `{"request":{"http":{`...)
	if r.RawBody != nil {
		b = appendString(append(b, `"body":`...), string(r.RawBody))
		b = append(b, ',')
	}
	b = appendStringMap(append(b, `"headers":`...), r.Headers)
	b = appendString(append(b, `,"host":`...), r.Host)
	b = appendString(append(b, `,"id":`...), r.ID)
	b = appendWord(append(b, `,"method":`...), r.Method)
	b = appendString(append(b, `,"path":`...), r.EnvoyPath())
	b = appendWord(append(b, `,"scheme":`...), r.Scheme)
	if r.RawBody != nil {
		b = strconv.AppendInt(append(b, `,"size":`...), int64(len(r.RawBody)), 10)
	}
	host, port, ok := r.EnvoySource()
	b = appendString(append(b, `}},"source":{"address":{"socketAddress":{"address":`...), host)
	if ok {
		b = strconv.AppendInt(append(b, `,"portValue":`...), int64(port), 10)
	}
	return append(b, "}}}}"...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendStringMap(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	var kb [keyBuf]pair[string]
	ps, ko := orderedPairs(stringOrders, kb[:0], m)
	for i, p := range ps {
		b = appendString(ko.appendKey(b, i, p.k), p.v)
	}
	return append(b, '}')
}

func appendQuery(b []byte, q map[string][]string) []byte {
	b = append(b, '{')
	var kb [keyBuf]pair[[]string]
	ps, ko := orderedPairs(queryOrders, kb[:0], q)
	for i, p := range ps {
		b = appendStrings(ko.appendKey(b, i, p.k), p.v)
	}
	return append(b, '}')
}
