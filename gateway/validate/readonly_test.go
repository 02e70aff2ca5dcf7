package validate

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// readOnlySpec has one operation per case: its operationId says whether a
// schema its body reaches is readOnly (ro-) or not (rw-).
const readOnlySpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /rw/plain:
    post:
      operationId: rw-plain
      requestBody: {content: {application/json: {schema: {type: object, properties: {a: {type: string}}}}}}
      responses: {"200": {description: ok}}
  /rw/cycle:
    post:
      operationId: rw-cycle
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}}
      responses: {"200": {description: ok}}
  /rw/unreachable:
    post:
      operationId: rw-unreachable
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Writable"}}}}
      responses: {"200": {description: ok}}
  /ro/top:
    post:
      operationId: ro-top
      requestBody: {content: {application/json: {schema: {type: string, readOnly: true}}}}
      responses: {"200": {description: ok}}
  /ro/nested:
    post:
      operationId: ro-nested
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {a: {type: object, properties: {b: {type: string, readOnly: true}}}}}
      responses: {"200": {description: ok}}
  /ro/allof:
    post:
      operationId: ro-allof
      requestBody: {content: {application/json: {schema: {allOf: [{type: object}, {$ref: "#/components/schemas/Record"}]}}}}
      responses: {"200": {description: ok}}
  /ro/oneof:
    post:
      operationId: ro-oneof
      requestBody: {content: {application/json: {schema: {oneOf: [{type: string}, {type: object, properties: {id: {type: string, readOnly: true}}}]}}}}
      responses: {"200": {description: ok}}
  /ro/anyof:
    post:
      operationId: ro-anyof
      requestBody: {content: {application/json: {schema: {anyOf: [{type: string}, {type: integer, readOnly: true}]}}}}
      responses: {"200": {description: ok}}
  /ro/not:
    post:
      operationId: ro-not
      requestBody: {content: {application/json: {schema: {not: {type: string, readOnly: true}}}}}
      responses: {"200": {description: ok}}
  /ro/items:
    post:
      operationId: ro-items
      requestBody: {content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Record"}}}}}
      responses: {"200": {description: ok}}
  /ro/additional:
    post:
      operationId: ro-additional
      requestBody: {content: {application/json: {schema: {type: object, additionalProperties: {type: string, readOnly: true}}}}}
      responses: {"200": {description: ok}}
  /ro/ref:
    post:
      operationId: ro-ref
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Record"}}}}
      responses: {"200": {description: ok}}
  /ro/cycle:
    post:
      operationId: ro-cycle
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Tree"}}}}
      responses: {"200": {description: ok}}
  /ro/other-media-type:
    post:
      operationId: ro-other-media-type
      requestBody:
        content:
          application/json: {schema: {type: object}}
          application/merge-patch+json: {schema: {$ref: "#/components/schemas/Record"}}
      responses: {"200": {description: ok}}
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
    Tree:
      type: object
      properties:
        children: {type: array, items: {$ref: "#/components/schemas/Tree"}}
        leaf: {$ref: "#/components/schemas/Record"}
    Writable:
      type: object
      properties: {name: {type: string}}
    Unused:
      type: object
      properties: {id: {type: string, readOnly: true}}
    Record:
      type: object
      required: [id, name]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
`

func TestReadOnlyBody(t *testing.T) {
	t.Parallel()
	c := newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "ro.yaml", readOnlySpec)}).current.Load()
	n := 0
	for op, o := range c.ops {
		want := strings.HasPrefix(op.OperationID, "ro-")
		if o.readOnly != want {
			t.Errorf("%s: readOnly = %v, want %v", op.OperationID, o.readOnly, want)
		}
		n++
	}
	if n != 14 {
		t.Fatalf("%d operations, want 14", n)
	}
	// An unresolved reference keeps the option: kin-openapi's readOnly rule
	// is where such a property is handled today.
	unresolved := &openapi3.RequestBody{Content: openapi3.NewContentWithJSONSchemaRef(&openapi3.SchemaRef{
		Value: &openapi3.Schema{Properties: openapi3.Schemas{"a": {Ref: "#/x"}}},
	})}
	if !readOnlyBody(unresolved) {
		t.Error("a body with an unresolved reference is taken as without readOnly")
	}
	// The documents of the other tests have no readOnly: they all take
	// the cheaper options, which TestPreparedOperationsMatchValidateRequest
	// holds to ValidateRequest.
	for _, spec := range []string{usersSpec, writeSpec(t, "diff.yaml", diffSpec)} {
		for op, o := range newValidator(t, config.RouteOpenAPI{Spec: spec}).current.Load().ops {
			if o.readOnly {
				t.Errorf("%s %s: readOnly", spec, op.OperationID)
			}
		}
	}
}

// TestSubschemasAreEveryField holds subschemas to openapi3.Schema: a
// readOnly schema in any field that holds schemas is found, and no field
// holds schemas in a type subschemas does not know.
func TestSubschemasAreEveryField(t *testing.T) {
	t.Parallel()
	ro := func() *openapi3.SchemaRef { return &openapi3.SchemaRef{Value: &openapi3.Schema{ReadOnly: true}} }
	kinds := map[reflect.Type]func() reflect.Value{
		reflect.TypeFor[*openapi3.SchemaRef](): func() reflect.Value { return reflect.ValueOf(ro()) },
		reflect.TypeFor[openapi3.SchemaRefs](): func() reflect.Value { return reflect.ValueOf(openapi3.SchemaRefs{{Value: &openapi3.Schema{}}, ro()}) },
		reflect.TypeFor[openapi3.Schemas](): func() reflect.Value {
			return reflect.ValueOf(openapi3.Schemas{"a": {Value: &openapi3.Schema{}}, "b": ro()})
		},
		reflect.TypeFor[openapi3.BoolSchema](): func() reflect.Value { return reflect.ValueOf(openapi3.BoolSchema{Schema: ro()}) },
	}
	st := reflect.TypeFor[openapi3.Schema]()
	walked := 0
	for i := range st.NumField() {
		f := st.Field(i)
		fill, ok := kinds[f.Type]
		if !ok {
			if strings.Contains(f.Type.String(), "Schema") && f.Type != reflect.TypeFor[*openapi3.Discriminator]() {
				t.Errorf("field %s of type %s may hold schemas: walk it in subschemas", f.Name, f.Type)
			}
			continue
		}
		var s openapi3.Schema
		reflect.ValueOf(&s).Elem().Field(i).Set(fill())
		if !readOnlyFrom(&openapi3.SchemaRef{Value: &s}, map[*openapi3.Schema]bool{}) {
			t.Errorf("a readOnly schema in %s is not found", f.Name)
		}
		walked++
	}
	if walked < 19 {
		t.Fatalf("only %d fields hold schemas", walked)
	}
}

// TestReadOnlyRequestsAreRefusedAsBefore: a body that reaches readOnly is
// validated with VisitAsRequest, as ValidateRequest does: a readOnly
// property sent is refused, a required readOnly property may be left out.
func TestReadOnlyRequestsAreRefusedAsBefore(t *testing.T) {
	t.Parallel()
	c := newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "ro.yaml", readOnlySpec)}).current.Load()
	const js = "application/json"
	tests := []struct {
		target, raw string
		want        []problem.InvalidParam
	}{
		{"/ro/ref", `{"id":"x","name":"a"}`, []problem.InvalidParam{{Name: "/id", In: "body", Reason: `readOnly property "id" in request`}}},
		{"/ro/ref", `{"name":"a"}`, nil},
		{"/ro/allof", `{"name":"a"}`, nil},
		{"/ro/allof", `{"id":"x","name":"a"}`, []problem.InvalidParam{{Name: "", In: "body", Reason: `doesn't match all schemas from "allOf"`}}},
		{"/ro/items", `[{"name":"a"},{"id":"x","name":"b"}]`, []problem.InvalidParam{{Name: "/1/id", In: "body", Reason: `readOnly property "id" in request`}}},
		{"/ro/cycle", `{"children":[{"leaf":{"id":"x","name":"b"}}]}`, []problem.InvalidParam{{Name: "/children/0/leaf/id", In: "body", Reason: `readOnly property "id" in request`}}},
		{"/ro/nested", `{"a":{"b":"x"}}`, []problem.InvalidParam{{Name: "/a/b", In: "body", Reason: `readOnly property "b" in request`}}},
		{"/rw/unreachable", `{"name":"a","id":"x"}`, nil},
	}
	for _, tt := range tests {
		r := diffRequest(http.MethodPost, tt.target, js, "")
		want, got := generic(t, c, r, []byte(tt.raw)), prepared(t, c, r, []byte(tt.raw))
		if !slices.Equal(got, want) || !slices.Equal(got, tt.want) {
			t.Errorf("%s %s:\n got           %+v\n ValidateRequest %+v\n want          %+v", tt.target, tt.raw, got, want, tt.want)
		}
	}
}

// writableSpec's schemas have no readOnly but every keyword VisitAsRequest
// acts on or around: properties with defaults, required members in allOf,
// oneOf and anyOf with object branches, a discriminator, a cycle, nested
// arrays and additional properties.
const writableSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Pet:
      oneOf: [{$ref: "#/components/schemas/Cat"}, {$ref: "#/components/schemas/Dog"}]
      discriminator: {propertyName: kind}
    Cat:
      type: object
      required: [kind]
      properties: {kind: {type: string}, lives: {type: integer, default: 9, maximum: 9}}
    Dog:
      type: object
      required: [kind, name]
      properties: {kind: {type: string}, name: {type: string, default: rex}}
    Either:
      oneOf:
        - {type: object, required: [a], properties: {a: {type: integer}}, additionalProperties: false}
        - {type: object, required: [b], properties: {b: {type: string, enum: [x, y]}}}
        - {type: array, items: {type: number}}
    Any:
      anyOf:
        - {type: object, properties: {a: {type: string, default: d}}, required: [a]}
        - {type: object, properties: {b: {type: array, items: {$ref: "#/components/schemas/Node"}}}}
        - {type: string, nullable: true}
    Both:
      allOf:
        - {type: object, required: [id], properties: {id: {type: string, minLength: 2}}}
        - {type: object, required: [name, n], properties: {name: {type: string}, n: {type: integer, default: 1}}}
      required: [extra]
      properties: {extra: {type: boolean, default: true}}
    Node:
      type: object
      required: [name]
      additionalProperties: {type: array, items: {$ref: "#/components/schemas/Node"}, maxItems: 2}
      properties:
        name: {type: string, maxLength: 3}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
        tag: {not: {type: string, enum: [bad]}}
    Open:
      type: object
      minProperties: 1
      maxProperties: 3
      properties: {x: {type: object, required: [y], properties: {y: {type: integer, default: 0}}}}
`

// writableSchemas are writableSpec's schemas, which readOnlyFrom finds
// without readOnly, and the options of a 3.0 document (users) and of a
// 3.1 document (with JSON Schema 2020, which falls back to the 3.0
// validator where it cannot compile a schema).
func writableSchemas(t testing.TB) ([]*openapi3.Schema, []*compiled) {
	cs := []*compiled{
		newValidator(t, config.RouteOpenAPI{}).current.Load(),
		newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "v31.yaml", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n")}).current.Load(),
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(writableSpec))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(openapi3.NewLoader().Context); err != nil {
		t.Fatal(err)
	}
	var out []*openapi3.Schema
	for _, name := range slices.Sorted(maps.Keys(doc.Components.Schemas)) {
		ref := doc.Components.Schemas[name]
		if readOnlyFrom(ref, map[*openapi3.Schema]bool{}) {
			t.Fatalf("%s reaches readOnly", name)
		}
		out = append(out, ref.Value)
	}
	out = append(out, cs[0].doc.Components.Schemas["NewUser"].Value)
	return out, cs
}

// asRequestDiff reports where validating v against s with and without
// VisitAsRequest differs: the verdict, the error's text, the translated
// invalid params of the body (terse and verbose); v is left unchanged
// by both.
func asRequestDiff(c *compiled, s *openapi3.Schema, raw []byte) string {
	results := [2]string{}
	for i, opts := range [][]openapi3.SchemaValidationOption{c.bodyOpts, c.writableBodyOpts} {
		v, ok := kinJSON(raw)
		if !ok {
			return ""
		}
		before := fmt.Sprintf("%#v", v)
		err := s.VisitJSON(v, opts...)
		if after := fmt.Sprintf("%#v", v); after != before {
			return fmt.Sprintf("options %d changed the value: %s", i, after)
		}
		switch {
		case err == nil:
		case c.doc.IsOpenAPI31OrLater():
			// JSON Schema 2020's messages name members in map order,
			// different from call to call: the verdict and the terse
			// params are compared.
			results[i] = fmt.Sprintf("%+v", cause(nil, "body", "", err, false))
		default:
			results[i] = fmt.Sprintf("%s\n%+v\n%+v", err, cause(nil, "body", "", err, false), cause(nil, "body", "", err, true))
		}
	}
	if results[0] != results[1] {
		return fmt.Sprintf("with VisitAsRequest: %q\nwithout: %q", results[0], results[1])
	}
	return ""
}

var writableValues = []string{
	`{"kind":"Cat","lives":3}`, `{"kind":"Cat","lives":10}`, `{"kind":"Dog"}`, `{"kind":"Cow"}`, `{"lives":1}`, `{"kind":1}`,
	`{"a":1}`, `{"b":"x"}`, `{"a":1,"b":"x"}`, `{"b":"z"}`, `[1,2.5]`, `["x"]`, `{}`, `null`, `"s"`, `1`,
	`{"b":[{"name":"abc"},{"name":"long"}]}`, `{"a":"x","b":[]}`,
	`{"id":"ab","name":"n","n":1,"extra":true}`, `{"id":"a"}`, `{"extra":false}`,
	`{"name":"a","children":[{"name":"b","children":[{}]}],"more":[{"name":"c"},{"name":"d"},{"name":"e"}]}`,
	`{"name":"a","tag":"bad"}`, `{"x":{}}`, `{"x":{"y":1},"p":1,"q":2,"r":3}`,
}

func TestAsRequestChangesNothingWithoutReadOnly(t *testing.T) {
	t.Parallel()
	schemas, cs := writableSchemas(t)
	failed := 0
	for _, c := range cs {
		for _, s := range schemas {
			for _, raw := range writableValues {
				if d := asRequestDiff(c, s, []byte(raw)); d != "" {
					t.Errorf("%s: %s", raw, d)
				}
				if err := s.VisitJSON(mustJSON(t, raw), c.writableBodyOpts...); err != nil {
					failed++
				}
			}
		}
	}
	if total := len(cs) * len(schemas) * len(writableValues); failed == 0 || failed == total {
		t.Fatalf("%d of %d validations fail: the cases test too little", failed, total)
	}
}

func mustJSON(t testing.TB, raw string) any {
	v, ok := kinJSON([]byte(raw))
	if !ok {
		t.Fatalf("%s is not JSON", raw)
	}
	return v
}

// FuzzAsRequestChangesNothingWithoutReadOnly: on any JSON value, every
// schema without readOnly gives the same verdict and errors with and
// without VisitAsRequest.
func FuzzAsRequestChangesNothingWithoutReadOnly(f *testing.F) {
	for _, raw := range writableValues {
		f.Add([]byte(raw))
	}
	schemas, cs := writableSchemas(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		for _, c := range cs {
			for _, s := range schemas {
				if d := asRequestDiff(c, s, raw); d != "" {
					t.Fatalf("%q: %s", raw, d)
				}
			}
		}
	})
}
