package validate

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// plainCase is one parameter definition and one request's values for it.
type plainCase struct {
	in, typ, format string
	required, empty bool // required, allowEmptyValue
	pattern         string
	enum            bool // enum of "1", "true", "ab" as the type reads them
	openapi31       bool
	values          []string // nil: not given; path parameters take values[0]
}

// parameter builds the parameter and the document version of c.
func (c plainCase) parameter() (*openapi3.Parameter, *openapi3.T) {
	s := &openapi3.Schema{Type: &openapi3.Types{c.typ}, Format: c.format, Pattern: c.pattern}
	switch c.typ {
	case openapi3.TypeInteger, openapi3.TypeNumber:
		lo, hi := 1.0, 100.0
		s.Min, s.Max = &lo, &hi
		if c.enum {
			s.Enum = []any{1.0, 2.5}
		}
	case openapi3.TypeString:
		s.MinLength = 2
		if c.enum {
			s.Enum = []any{"ab", "cd"}
		}
	case openapi3.TypeBoolean:
		if c.enum {
			s.Enum = []any{true}
		}
	}
	p := &openapi3.Parameter{Name: "p", In: c.in, Required: c.required, AllowEmptyValue: c.empty, Schema: openapi3.NewSchemaRef("", s)}
	doc := &openapi3.T{OpenAPI: "3.0.3"}
	if c.openapi31 {
		doc.OpenAPI = "3.1.0"
	}
	return p, doc
}

// plainDiff returns how validatePlain's error for c differs from
// ValidateParameter's, "" when it does not.
func plainDiff(t testing.TB, c plainCase) string {
	p, doc := c.parameter()
	pp := prepare(p)
	if pp.typ == "" {
		t.Fatalf("%+v: not plain", c)
	}
	params, query := map[string]string{}, url.Values{}
	if c.values != nil {
		if c.in == openapi3.ParameterInPath {
			params["p"] = c.values[0]
		} else {
			query["p"] = c.values
		}
	}
	query["other"] = []string{"x"} // a query that is not empty
	opts := &openapi3filter.Options{MultiError: true, SkipSettingDefaults: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(stringFormats)}}
	in := &openapi3filter.RequestValidationInput{PathParams: params, QueryParams: query, Route: &routers.Route{Spec: doc}, Options: opts}
	want := openapi3filter.ValidateParameter(context.Background(), in, p)
	c2 := &compiled{paramOpts: paramOptions(doc, opts)}
	got := c2.validatePlain(pp, params, query, func() *openapi3filter.RequestValidationInput { return in })
	if (got == nil) != (want == nil) {
		return "got " + errString(got) + ", want " + errString(want)
	}
	if got == nil {
		return ""
	}
	if got.Error() != want.Error() {
		return "got " + got.Error() + ", want " + want.Error()
	}
	for _, verbose := range []bool{false, true} {
		if g, w := translate(nil, got, verbose), translate(nil, want, verbose); !slices.Equal(g, w) {
			return "translated differently"
		}
	}
	if !reflect.DeepEqual(got, want) {
		return "errors differ in their fields"
	}
	if errors.Is(got, openapi3filter.ErrInvalidRequired) != errors.Is(want, openapi3filter.ErrInvalidRequired) {
		return "ErrInvalidRequired differs"
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestPlainParametersAreValidateParameters(t *testing.T) {
	t.Parallel()
	const path, query = openapi3.ParameterInPath, openapi3.ParameterInQuery
	const str, integer, number, boolean = openapi3.TypeString, openapi3.TypeInteger, openapi3.TypeNumber, openapi3.TypeBoolean
	tests := []plainCase{
		{in: path, typ: str, required: true, pattern: "^bench-user-[0-9]{5}$", values: []string{"bench-user-00042"}},
		{in: path, typ: str, required: true, pattern: "^bench-user-[0-9]{5}$", values: []string{"bench-user-42"}},
		{in: path, typ: str, required: true, values: []string{""}},
		{in: path, typ: str, required: true},
		{in: path, typ: integer, required: true, values: []string{"42"}},
		{in: path, typ: integer, required: true, values: []string{"4x"}},
		{in: path, typ: number, required: true, values: []string{"0x10"}},
		{in: path, typ: boolean, required: true, values: []string{"yes"}},
		{in: path, typ: boolean, required: true, enum: true, values: []string{"false"}},
		{in: query, typ: integer, values: []string{"10"}},
		{in: query, typ: integer, values: []string{"0"}},
		{in: query, typ: integer, values: []string{"1000"}},
		{in: query, typ: integer, values: []string{"-x"}},
		{in: query, typ: integer, values: []string{"99999999999999999999"}},
		{in: query, typ: integer, format: "int32", values: []string{"3000000000"}},
		{in: query, typ: integer, format: "int32", values: []string{"7"}},
		{in: query, typ: integer, values: []string{""}},
		{in: query, typ: integer, empty: true, values: []string{""}},
		{in: query, typ: integer, required: true},
		{in: query, typ: integer, required: true, values: []string{}},
		{in: query, typ: integer, values: []string{"", "", "5"}},
		{in: query, typ: integer, values: []string{"", "7"}},
		{in: query, typ: integer, values: []string{"", "0"}},
		{in: query, typ: integer, values: []string{"", "500", "5"}},
		{in: query, typ: integer, values: []string{"7", "x"}},
		{in: query, typ: integer, enum: true, values: []string{"2"}},
		{in: query, typ: number, values: []string{"2.5"}},
		{in: query, typ: number, values: []string{"1e400"}},
		{in: query, typ: number, values: []string{"Inf"}},
		{in: query, typ: number, values: []string{"1_0"}},
		{in: query, typ: number, values: []string{"0x1p4"}},
		{in: query, typ: number, values: []string{"+.5e1"}},
		{in: query, typ: number, enum: true, values: []string{"2.50"}},
		{in: query, typ: boolean, values: []string{"true"}},
		{in: query, typ: boolean, values: []string{"T"}},
		{in: query, typ: boolean, values: []string{"maybe"}},
		{in: query, typ: boolean, values: []string{""}},
		{in: query, typ: str, values: []string{""}},
		{in: query, typ: str, empty: true, values: []string{""}},
		{in: query, typ: str, required: true, values: []string{""}},
		{in: query, typ: str, values: []string{"a"}},
		{in: query, typ: str, enum: true, values: []string{"ab"}},
		{in: query, typ: str, enum: true, values: []string{"zz"}},
		{in: query, typ: str, pattern: "^[a-z]+$", values: []string{"ABC", "abc"}},
		{in: query, typ: str, format: "uuid", values: []string{"nope"}},
		{in: query, typ: str, format: "email", values: []string{"a@b.c"}},
		{in: query, typ: str, openapi31: true, pattern: "^a", values: []string{"ba"}},
		{in: query, typ: integer, openapi31: true, values: []string{"0"}},
	}
	for _, tt := range tests {
		if d := plainDiff(t, tt); d != "" {
			t.Errorf("%+v: %s", tt, d)
		}
	}
}

// FuzzPlainParameters compares validatePlain with ValidateParameter on
// any value of any plain parameter.
func FuzzPlainParameters(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), "bench-user-00042", "", true)
	f.Add(uint8(1), uint8(1), uint8(2), "10", "x", false)
	f.Add(uint8(1), uint8(2), uint8(5), "", "1e9", false)
	f.Add(uint8(1), uint8(3), uint8(1), "t", "", false)
	f.Fuzz(func(t *testing.T, in, typ, flags uint8, v1, v2 string, two bool) {
		c := plainCase{
			in:        []string{openapi3.ParameterInPath, openapi3.ParameterInQuery}[in%2],
			typ:       []string{openapi3.TypeString, openapi3.TypeInteger, openapi3.TypeNumber, openapi3.TypeBoolean}[typ%4],
			required:  flags&1 != 0,
			empty:     flags&2 != 0,
			enum:      flags&4 != 0,
			openapi31: flags&8 != 0,
		}
		switch {
		case flags&16 != 0 && c.typ == openapi3.TypeInteger:
			c.format = "int32"
		case flags&16 != 0 && c.typ == openapi3.TypeString:
			c.format = "uuid"
		case flags&32 != 0 && c.typ == openapi3.TypeString:
			c.pattern = "^[a-z]{2,4}$"
		}
		if flags&64 == 0 {
			c.values = []string{v1}
			if two {
				c.values = append(c.values, v2)
			}
		}
		if d := plainDiff(t, c); d != "" {
			t.Fatalf("%+v: %s", c, d)
		}
	})
}

func TestOnlyPlainParametersAreDecodedHere(t *testing.T) {
	t.Parallel()
	str := openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}})
	explode := false
	tests := []struct {
		p     *openapi3.Parameter
		plain bool
	}{
		{&openapi3.Parameter{Name: "a", In: "path", Schema: str}, true},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: str}, true},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: str, Explode: &explode}, true},
		{&openapi3.Parameter{Name: "a", In: "path", Style: "label", Schema: str}, false},
		{&openapi3.Parameter{Name: "a", In: "path", Style: "matrix", Schema: str}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Style: "deepObject", Schema: str}, false},
		{&openapi3.Parameter{Name: "a", In: "header", Schema: str}, false},
		{&openapi3.Parameter{Name: "a", In: "cookie", Schema: str}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Content: openapi3.NewContentWithJSONSchemaRef(str)}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"array"}, Items: str})}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string", "null"}})}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: openapi3.NewSchemaRef("", &openapi3.Schema{Pattern: "^x"})}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"integer"}, AnyOf: openapi3.SchemaRefs{str}})}, false},
		{&openapi3.Parameter{Name: "a", In: "query", Schema: openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"integer"}, Not: str})}, false},
	}
	for _, tt := range tests {
		if got := prepare(tt.p).typ != ""; got != tt.plain {
			t.Errorf("%s %s style %q: plain %v, want %v", tt.p.In, tt.p.Name, tt.p.Style, got, tt.plain)
		}
	}
}
