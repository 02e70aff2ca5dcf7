package validate

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/portcullis/portcullis/gateway/problem"
)

// maxInvalidParams bounds the errors reported for one request.
const maxInvalidParams = 20

// maxReasonLen bounds a verbose reason.
const maxReasonLen = 200

// translate appends to out one InvalidParam per error in err, a
// ValidateRequest result. Reasons are built from the schema, never from the
// request, unless verbose.
func translate(out []problem.InvalidParam, err error, verbose bool) []problem.InvalidParam {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			out = translate(out, x, verbose)
		}
		return out
	case *openapi3filter.RequestError:
		switch {
		case e.Parameter != nil:
			return cause(out, e.Parameter.In, e.Parameter.Name, e.Err, verbose)
		case e.RequestBody != nil:
			if e.Err == nil {
				return add(out, "", "body", "does not match the request body description", e.Reason, verbose)
			}
			return cause(out, "body", "", e.Err, verbose)
		}
	}
	return add(out, "", "request", "is invalid", err.Error(), verbose)
}

// cause translates the error of one parameter (name) or of the body.
func cause(out []problem.InvalidParam, in, name string, err error, verbose bool) []problem.InvalidParam {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			out = cause(out, in, name, x, verbose)
		}
		return out
	case *openapi3.SchemaError:
		if in == "body" {
			name = pointer(e.JSONPointer())
		}
		return add(out, name, in, schemaReason(e), e.Reason, verbose)
	}
	switch {
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		if in == "body" {
			return add(out, "", in, "request body is required", "", false)
		}
		return add(out, name, in, "is required", "", false)
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		return add(out, name, in, "must not be empty", "", false)
	}
	if se, ok := errors.AsType[*openapi3.SchemaError](err); ok {
		return cause(out, in, name, se, verbose)
	}
	if in == "body" {
		return add(out, "", in, "cannot be decoded as the declared media type", err.Error(), verbose)
	}
	return add(out, name, in, "cannot be parsed", err.Error(), verbose)
}

func add(out []problem.InvalidParam, name, in, reason, detail string, verbose bool) []problem.InvalidParam {
	if len(out) >= maxInvalidParams {
		return out
	}
	if verbose && detail != "" {
		reason = detail
		if len(reason) > maxReasonLen {
			n := maxReasonLen
			for n > 0 && !utf8.RuneStart(reason[n]) {
				n--
			}
			reason = reason[:n] + "…"
		}
	}
	return append(out, problem.InvalidParam{Name: name, In: in, Reason: reason})
}

// pointer renders a JSON pointer (RFC 6901); the whole document is "".
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// schemaReason says what the schema wants, from the schema alone: it
// must never echo the value (kin-openapi's own reasons sometimes name an
// unknown property, which comes from the request).
func schemaReason(e *openapi3.SchemaError) string {
	s := e.Schema
	if s == nil {
		return "does not match the schema"
	}
	switch e.SchemaField {
	case "required":
		return "is required"
	case "type":
		if s.Type != nil && len(s.Type.Slice()) > 0 {
			return "must be of type " + strings.Join(s.Type.Slice(), " or ")
		}
		return "has the wrong type"
	case "nullable":
		return "must not be null"
	case "enum":
		return "must be one of the allowed values"
	case "format":
		return "must be a valid " + s.Format
	case "pattern":
		return "must match the pattern of the schema"
	case "minLength":
		return fmt.Sprintf("must be at least %d characters long", s.MinLength)
	case "maxLength":
		if s.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters long", *s.MaxLength)
		}
	case "minimum", "exclusiveMinimum":
		return "is below the minimum"
	case "maximum", "exclusiveMaximum":
		return "is above the maximum"
	case "multipleOf":
		return "is not a multiple of the schema's multipleOf"
	case "minItems":
		return fmt.Sprintf("must have at least %d items", s.MinItems)
	case "maxItems":
		if s.MaxItems != nil {
			return fmt.Sprintf("must have at most %d items", *s.MaxItems)
		}
	case "uniqueItems":
		return "must have unique items"
	case "minProperties", "maxProperties":
		return "has the wrong number of properties"
	case "properties":
		return "has a property the schema does not allow"
	case "oneOf", "anyOf", "allOf", "not", "discriminator":
		return "does not match the " + e.SchemaField + " of the schema"
	}
	return "does not match the schema"
}
