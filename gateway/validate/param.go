package validate

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// param is a parameter of an operation, prepared for validation.
type param struct {
	*openapi3.Parameter
	// typ is the schema's one primitive type (string, integer, number or
	// boolean) when the parameter is plain: in the path with style simple
	// or in the query with style form, with a schema (not content) that
	// has that one type and no allOf, anyOf, oneOf or not. ValidateParameter
	// decodes such a value by a path its decoder takes on every call
	// (the serialization method, a decoder, the schema walk that picks it);
	// decode takes the same path directly. "" for any other parameter,
	// which ValidateParameter itself validates.
	typ string
}

// prepare returns p with typ set when p is plain.
func prepare(p *openapi3.Parameter) param {
	pp := param{Parameter: p}
	if p.Content != nil || p.Schema == nil || p.Schema.Value == nil {
		return pp
	}
	s := p.Schema.Value
	if len(s.AllOf) > 0 || len(s.AnyOf) > 0 || len(s.OneOf) > 0 || s.Not != nil || s.Type == nil {
		return pp
	}
	sm, err := p.SerializationMethod()
	if err != nil {
		return pp
	}
	switch {
	case p.In == openapi3.ParameterInPath && sm.Style == openapi3.SerializationSimple,
		p.In == openapi3.ParameterInQuery && sm.Style == openapi3.SerializationForm:
	default:
		return pp
	}
	if ts := s.Type.Slice(); len(ts) == 1 {
		switch t := ts[0]; t {
		case openapi3.TypeString, openapi3.TypeInteger, openapi3.TypeNumber, openapi3.TypeBoolean:
			pp.typ = t
		}
	}
	return pp
}

// paramOptions are the schema options ValidateParameter builds on every
// call from opts (multiple errors, no custom error messages, the default
// regexp compiler, JSON Schema 2020 for 3.1), built once.
func paramOptions(doc *openapi3.T, opts *openapi3filter.Options) []openapi3.SchemaValidationOption {
	var so []openapi3.SchemaValidationOption
	if opts.MultiError {
		so = append(so, openapi3.MultiErrors())
	}
	so = append(so, opts.SchemaValidationOptions...)
	if doc.IsOpenAPI31OrLater() {
		so = append(so, openapi3.EnableJSONSchema2020())
	}
	return so
}

// validatePlain is ValidateParameter, with SkipSettingDefaults, for a
// plain parameter: the same value decoded, the same checks of presence
// and emptiness, the same VisitJSON, the same error. in returns the
// input an error names.
func (c *compiled) validatePlain(p param, params map[string]string, query url.Values, in func() *openapi3filter.RequestValidationInput) error {
	value, found, err := p.decode(params, query)
	if err != nil {
		return &openapi3filter.RequestError{Input: in(), Parameter: p.Parameter, Err: err}
	}
	if p.Required && !found {
		return &openapi3filter.RequestError{Input: in(), Parameter: p.Parameter, Reason: openapi3filter.ErrInvalidRequired.Error(), Err: openapi3filter.ErrInvalidRequired}
	}
	if value == nil {
		if !p.AllowEmptyValue && found {
			return &openapi3filter.RequestError{Input: in(), Parameter: p.Parameter, Reason: openapi3filter.ErrInvalidEmptyValue.Error(), Err: openapi3filter.ErrInvalidEmptyValue}
		}
		return nil
	}
	if s, ok := value.(string); ok && s == "" && p.AllowEmptyValue {
		return nil
	}
	if err := p.Schema.Value.VisitJSON(value, c.paramOpts...); err != nil {
		return &openapi3filter.RequestError{Input: in(), Parameter: p.Parameter, Err: err}
	}
	return nil
}

// decode is kin-openapi's decodeStyledParameter for a plain parameter:
// the value (nil when absent or empty and not a string), whether the
// parameter was given, and the parse error.
func (p param) decode(params map[string]string, query url.Values) (any, bool, error) {
	var raw string
	switch p.In {
	case openapi3.ParameterInPath:
		// An empty path value counts as not given.
		v, ok := params[p.Name]
		if !ok || v == "" {
			return nil, false, nil
		}
		raw = v
	default: // query
		vs, ok := query[p.Name]
		if len(vs) == 0 {
			return nil, ok, nil
		}
		// The first non-empty value of a repeated parameter, as kin-openapi
		// takes it (a lone empty value stays empty).
		raw = vs[0]
		if raw == "" && len(vs) > 1 {
			for _, v := range vs[1:] {
				if v != "" {
					raw = v
					break
				}
			}
		}
	}
	if raw == "" && p.typ != openapi3.TypeString {
		return nil, true, nil
	}
	v, err := p.parse(raw)
	return v, true, err
}

// parse is kin-openapi's parsePrimitive for the parameter's one type,
// with its errors.
func (p param) parse(raw string) (any, error) {
	switch p.typ {
	case openapi3.TypeInteger:
		if p.Schema.Value.Format == "int32" {
			v, err := strconv.ParseInt(raw, 10, 32)
			if err != nil {
				return nil, p.invalid(raw, err.(*strconv.NumError).Err)
			}
			return int32(v), nil
		}
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, p.invalid(raw, err.(*strconv.NumError).Err)
		}
		return v, nil
	case openapi3.TypeNumber:
		// kin-openapi refuses what ParseFloat takes beyond decimal numbers
		// (hexadecimal, underscores, infinities, NaN).
		if strings.ContainsFunc(raw, func(r rune) bool { return !strings.ContainsRune("+-.0123456789eE", r) }) {
			return nil, p.invalid(raw, strconv.ErrSyntax)
		}
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, p.invalid(raw, err.(*strconv.NumError).Err)
		}
		return v, nil
	case openapi3.TypeBoolean:
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, p.invalid(raw, err.(*strconv.NumError).Err)
		}
		return v, nil
	}
	return raw, nil
}

func (p param) invalid(raw string, cause error) error {
	return &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Value: raw, Reason: "an invalid " + p.typ, Cause: cause}
}
