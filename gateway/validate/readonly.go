package validate

import "github.com/getkin/kin-openapi/openapi3"

// readOnlyBody reports whether VisitAsRequest can matter for a body of
// rb: whether a schema that visiting one of its media types' schemas can
// reach is readOnly, or is a reference left unresolved (kin-openapi's
// readOnly rule dereferences a property's schema without a check, so such
// a body keeps the option and kin-openapi's handling of it).
// Without readOnly and without defaults to set (the gateway sets none),
// the option's only other work is per object visited a sorted copy of
// the schema's property names and, per oneOf/anyOf branch, a deep copy of
// the value: it changes no verdict and no error, and costs an allocation
// and a sort per object.
func readOnlyBody(rb *openapi3.RequestBody) bool {
	seen := map[*openapi3.Schema]bool{}
	for _, mt := range rb.Content {
		if mt != nil && readOnlyFrom(mt.Schema, seen) {
			return true
		}
	}
	return false
}

func readOnlyFrom(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) bool {
	if ref == nil {
		return false
	}
	s := ref.Value
	if s == nil {
		return true
	}
	if seen[s] {
		return false
	}
	seen[s] = true
	if s.ReadOnly {
		return true
	}
	for _, sub := range subschemas(s) {
		if readOnlyFrom(sub, seen) {
			return true
		}
	}
	return false
}

// subschemas are the schemas s holds, in every keyword that holds one
// (TestSubschemasAreEveryField holds this list to openapi3.Schema's
// fields), whether or not the 3.0 validator visits it.
func subschemas(s *openapi3.Schema) []*openapi3.SchemaRef {
	subs := []*openapi3.SchemaRef{s.Not, s.Items, s.AdditionalProperties.Schema, s.Contains, s.PropertyNames,
		s.UnevaluatedItems.Schema, s.UnevaluatedProperties.Schema, s.If, s.Then, s.Else, s.ContentSchema}
	for _, refs := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf, s.PrefixItems} {
		subs = append(subs, refs...)
	}
	for _, m := range []openapi3.Schemas{s.Properties, s.PatternProperties, s.DependentSchemas, s.Defs} {
		for _, ref := range m {
			subs = append(subs, ref)
		}
	}
	return subs
}
