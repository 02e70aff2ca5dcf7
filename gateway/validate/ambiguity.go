package validate

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Reasons of the ambiguities found against the document. Names in them
// are the document's, never the request's.
const (
	reasonRepeated    = "must not be repeated (the parameter is not an array)"
	reasonCaseVariant = "is given in a spelling that differs only in case"
)

// maxSchemaNesting bounds the allOf/anyOf/oneOf nesting followed to find
// the properties a schema declares.
const maxSchemaNesting = 8

// ambiguous appends what the operation's parameters and body schema make
// ambiguous for a backend, though kin-openapi accepts it: a query
// parameter the document declares as a scalar given more than once (Rails
// and PHP take the last value, most others the first), and a query
// parameter or JSON member spelt in another case than the declared one
// (ASP.NET binds query parameters, and encoding/json members, ignoring
// case). A member repeated in one object never gets here: body.Read
// refused it. ct is the request's Content-Type and mt the media type it
// selects in the operation's body.
func ambiguous(out []problem.InvalidParam, c *compiled, query url.Values, route *routers.Route, raw []byte, ct string, mt *openapi3.MediaType) []problem.InvalidParam {
	if len(query) > 0 {
		out = queryAmbiguity(out, query, route)
	}
	if len(raw) == 0 || !body.IsJSON(ct) {
		return out
	}
	if rb := route.Operation.RequestBody; rb == nil || rb.Value == nil {
		return out
	}
	if mt == nil || mt.Schema == nil || !c.openSchemas[mt.Schema] {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return out // reported by the validation proper
	}
	return caseVariants(out, mt.Schema, v, "")
}

// openSchemas finds the request-body schemas in which a case variant of a
// declared property could pass validation: those with an object that
// declares properties and allows others. Where every such object sets
// additionalProperties: false, kin-openapi already refuses the variant as
// an unknown property, and the body need not be decoded a second time.
func openSchemas(doc *openapi3.T) map[*openapi3.SchemaRef]bool {
	open := map[*openapi3.SchemaRef]bool{}
	if doc.Paths == nil {
		return open
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for _, mt := range op.RequestBody.Value.Content {
				if mt.Schema != nil && allowsVariants(mt.Schema, 0) {
					open[mt.Schema] = true
				}
			}
		}
	}
	return open
}

// allowsVariants reports whether s, or a schema below it, declares
// properties and does not forbid additional ones.
func allowsVariants(s *openapi3.SchemaRef, depth int) bool {
	if s == nil || s.Value == nil || depth > maxSchemaNesting {
		return depth > maxSchemaNesting // too deep to tell: walk it
	}
	v := s.Value
	ap := v.AdditionalProperties
	if len(v.Properties) > 0 && (ap.Has == nil || *ap.Has || ap.Schema != nil) {
		return true
	}
	for _, p := range v.Properties {
		if allowsVariants(p, depth+1) {
			return true
		}
	}
	for _, subs := range []openapi3.SchemaRefs{v.AllOf, v.AnyOf, v.OneOf} {
		for _, sub := range subs {
			if allowsVariants(sub, depth+1) {
				return true
			}
		}
	}
	return allowsVariants(v.Items, depth+1) || allowsVariants(ap.Schema, depth+1)
}

// queryAmbiguity checks the query parameters the operation declares.
func queryAmbiguity(out []problem.InvalidParam, q url.Values, route *routers.Route) []problem.InvalidParam {
	for _, params := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, pr := range params {
			p := pr.Value
			if p == nil || p.In != openapi3.ParameterInQuery {
				continue
			}
			n, variant := 0, false
			for name, vals := range q {
				if strings.EqualFold(name, p.Name) {
					n += len(vals)
					variant = variant || name != p.Name
				}
			}
			switch {
			case variant:
				out = add(out, p.Name, "query", reasonCaseVariant, "", false)
			case n > 1 && !multiValued(p):
				out = add(out, p.Name, "query", reasonRepeated, "", false)
			}
		}
	}
	return out
}

// multiValued reports whether p may legitimately be repeated: an array,
// or an object spread over several parameters.
func multiValued(p *openapi3.Parameter) bool {
	if p.Schema == nil || p.Schema.Value == nil {
		return p.Content != nil // a JSON-encoded parameter is one value
	}
	t := p.Schema.Value.Type
	return t.Includes("array") || t.Includes("object")
}

// caseVariants walks the decoded body v along schema s and reports every
// member whose name differs only in case from a property the schema
// declares (by the declared name, at its JSON pointer).
func caseVariants(out []problem.InvalidParam, s *openapi3.SchemaRef, v any, ptr string) []problem.InvalidParam {
	if s == nil || s.Value == nil {
		return out
	}
	switch t := v.(type) {
	case map[string]any:
		props := properties(s.Value, nil, 0)
		for k, mv := range t {
			if ps, ok := props[k]; ok {
				out = caseVariants(out, ps, mv, ptr+pointer([]string{k}))
				continue
			}
			for name := range props {
				if strings.EqualFold(name, k) {
					out = add(out, ptr+pointer([]string{name}), "body", reasonCaseVariant, "", false)
				}
			}
		}
	case []any:
		if s.Value.Items != nil {
			for i, e := range t {
				out = caseVariants(out, s.Value.Items, e, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	return out
}

// properties collects the properties s declares, itself and through
// allOf, anyOf and oneOf.
func properties(s *openapi3.Schema, into openapi3.Schemas, depth int) openapi3.Schemas {
	if into == nil {
		into = openapi3.Schemas{}
	}
	if s == nil || depth > maxSchemaNesting {
		return into
	}
	for name, p := range s.Properties {
		if _, ok := into[name]; !ok {
			into[name] = p
		}
	}
	for _, subs := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range subs {
			if sub != nil {
				properties(sub.Value, into, depth+1)
			}
		}
	}
	return into
}
