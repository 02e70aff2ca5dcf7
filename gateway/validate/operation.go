package validate

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"reflect"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/portcullis/portcullis/gateway/problem"
)

// operation is what openapi3filter.ValidateRequest would work out again
// on every request, worked out once per operation of the document: the
// parameters to validate, in its order, the security requirements (with
// the gateway's no-op authentication only a declared scheme is checked),
// and the request body, with whether VisitAsRequest can matter for it.
type operation struct {
	params   []param
	security openapi3.SecurityRequirements
	body     *openapi3.RequestBody
	readOnly bool
}

// operations prepares every operation of doc, keyed as the router's
// routes name them.
func operations(doc *openapi3.T) map[*openapi3.Operation]*operation {
	ops := map[*openapi3.Operation]*operation{}
	if doc.Paths == nil {
		return ops
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			o := &operation{}
			// ValidateRequest's order: the path item's parameters that the
			// operation does not override, then the operation's.
			for _, pr := range item.Parameters {
				p := pr.Value
				if op.Parameters != nil && op.Parameters.GetByInAndName(p.In, p.Name) != nil {
					continue
				}
				o.params = append(o.params, prepare(p))
			}
			for _, pr := range op.Parameters {
				o.params = append(o.params, prepare(pr.Value))
			}
			if op.Security != nil {
				o.security = *op.Security
			} else {
				o.security = doc.Security
			}
			if op.RequestBody != nil {
				o.body = op.RequestBody.Value
				o.readOnly = readOnlyBody(o.body)
			}
			ops[op] = o
		}
	}
	return ops
}

// bodyOptions are the schema options ValidateRequestBody builds on every
// call from c.opts (no defaults set, no custom error messages, read-only
// validation on, the default regexp compiler), built once: asRequest
// with VisitAsRequest, as ValidateRequestBody, writable without it, for a
// body for which it changes nothing (readOnlyBody).
func bodyOptions(doc *openapi3.T, opts *openapi3filter.Options) (asRequest, writable []openapi3.SchemaValidationOption) {
	writable = []openapi3.SchemaValidationOption{openapi3.MultiErrors()}
	writable = append(writable, opts.SchemaValidationOptions...)
	if doc.IsOpenAPI31OrLater() {
		writable = append(writable, openapi3.EnableJSONSchema2020())
	}
	asRequest = append([]openapi3.SchemaValidationOption{openapi3.VisitAsRequest()}, writable...)
	return asRequest, writable
}

// validate appends to out what openapi3filter.ValidateRequest reports for
// r, matched as f, with the body raw, in the same order, and translated;
// ct is r's Content-Type and mt the media type it selects in o.body
// (nil without a body).
// kin-openapi reads the parameters from r, which it only reads there;
// where it may read or replace the body (security requirements, a body
// not taken by validateJSON) it is given a copy of r whose body is NoBody
// or raw.
func (c *compiled) validate(ctx context.Context, out []problem.InvalidParam, o *operation, r *http.Request, f found, query url.Values, raw []byte, ct string, bodyType *openapi3.MediaType, verbose bool) []problem.InvalidParam {
	var mt *openapi3.MediaType
	if o.body != nil {
		mt = c.jsonBody(o.body, ct, bodyType, raw)
	}
	var rvi *openapi3filter.RequestValidationInput
	in := func() *openapi3filter.RequestValidationInput {
		if rvi == nil {
			rvi = &openapi3filter.RequestValidationInput{Request: r, PathParams: f.params, QueryParams: query, Route: f.route, Options: c.opts}
		}
		return rvi
	}
	if len(o.security) > 0 || o.body != nil && mt == nil {
		rq := withPath(r, f.path)
		rq.Body, rq.ContentLength, rq.GetBody = http.NoBody, 0, nil
		in().Request = rq
	}
	if len(o.security) > 0 {
		if err := openapi3filter.ValidateSecurityRequirements(ctx, in(), o.security); err != nil {
			out = translate(out, err, verbose)
		}
	}
	for _, p := range o.params {
		var err error
		if p.typ != "" {
			err = c.validatePlain(p, f.params, query, in)
		} else {
			err = openapi3filter.ValidateParameter(ctx, in(), p.Parameter)
		}
		if err != nil {
			out = translate(out, err, verbose)
		}
	}
	if o.body == nil {
		return out
	}
	var err error
	if mt != nil {
		err = c.validateJSON(in, o, mt, r.Header, raw)
	} else {
		rq := in().Request
		if len(raw) > 0 {
			rq.Body, rq.ContentLength = readCloser{bytes.NewReader(raw)}, int64(len(raw))
		}
		err = openapi3filter.ValidateRequestBody(ctx, in(), o.body)
	}
	if err != nil {
		out = translate(out, err, verbose)
	}
	return out
}

// jsonDecoder is kin-openapi's own JSON body decoder, the one it registers
// for application/json.
var jsonDecoder = reflect.ValueOf(openapi3filter.JSONBodyDecoder).Pointer()

// jsonBody returns mt, the media type the Content-Type ct selects in rb,
// for a body that ValidateRequestBody
// would decode with its JSON decoder and validate against a schema, nil
// for anything else (no body, another media type, an encoding, a binary
// schema, a decoder registered in its place), which takes
// ValidateRequestBody's own path.
func (c *compiled) jsonBody(rb *openapi3.RequestBody, ct string, mt *openapi3.MediaType, raw []byte) *openapi3.MediaType {
	if len(raw) == 0 || len(rb.Content) == 0 {
		return nil
	}
	if mediaType(ct) != "application/json" {
		return nil
	}
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || mt.Encoding[""] != nil ||
		(mt.Schema.Value.Type.Is("string") && mt.Schema.Value.Format == "binary") {
		return nil
	}
	if d := openapi3filter.RegisteredBodyDecoder("application/json"); d == nil || reflect.ValueOf(d).Pointer() != jsonDecoder {
		return nil
	}
	return mt
}

// validateJSON is ValidateRequestBody for a JSON body held in raw: the
// same decoded value (decodeValue's, or from kin-openapi's decoder for
// what it leaves), the same schema options (built once, without
// VisitAsRequest where it changes nothing) and the same errors, without
// reading the body into a copy first.
func (c *compiled) validateJSON(in func() *openapi3filter.RequestValidationInput, o *operation, mt *openapi3.MediaType, h http.Header, raw []byte) error {
	rb, opts := o.body, c.writableBodyOpts
	if o.readOnly {
		opts = c.bodyOpts
	}
	value, ok := decodeValue(raw)
	if !ok {
		var err error
		if value, err = openapi3filter.JSONBodyDecoder(bytes.NewReader(raw), h, mt.Schema, nil); err != nil {
			return &openapi3filter.RequestError{Input: in(), RequestBody: rb, Reason: "failed to decode request body", Err: err}
		}
	}
	if err := mt.Schema.Value.VisitJSON(value, opts...); err != nil {
		return &openapi3filter.RequestError{Input: in(), RequestBody: rb, Reason: "doesn't match schema", Err: err}
	}
	return nil
}

// readCloser is io.NopCloser without its allocation.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
