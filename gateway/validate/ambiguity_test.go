package validate

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// openSpec is a document whose schemas allow additional properties, so
// that only the ambiguity check can catch a case variant.
const openSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /items:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
        - {name: tag, in: query, schema: {type: array, items: {type: string}}}
        - {name: filter, in: query, style: form, explode: true, schema: {type: object, additionalProperties: {type: string}}}
      responses: {"200": {description: ok}}
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Item"}
      responses: {"201": {description: ok}}
components:
  schemas:
    Item:
      allOf:
        - type: object
          properties:
            role: {type: string}
            isAdmin: {type: boolean}
        - type: object
          properties:
            owner:
              type: object
              properties: {name: {type: string}}
            parts:
              type: array
              items: {type: object, properties: {kind: {type: string}}}
`

func TestAmbiguity(t *testing.T) {
	t.Parallel()
	spec := filepath.Join(t.TempDir(), "open.yaml")
	if err := os.WriteFile(spec, []byte(openSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	enforce := newValidator(t, config.RouteOpenAPI{Spec: spec})
	report := newValidator(t, config.RouteOpenAPI{Spec: spec, Mode: ModeReport})
	users := newValidator(t, config.RouteOpenAPI{})
	tests := []struct {
		name   string
		v      *Validator
		method string
		target string
		body   string
		want   []problem.InvalidParam // nil: valid
	}{
		{"a scalar parameter once", enforce, "GET", "/items?limit=5", "", nil},
		{"a scalar parameter twice", enforce, "GET", "/items?limit=5&limit=100000", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonRepeated}}},
		{"a scalar parameter twice with the same value", enforce, "GET", "/items?limit=5&limit=5", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonRepeated}}},
		{"a scalar parameter twice, one percent-encoded", enforce, "GET", "/items?limit=5&%6Cimit=9", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonRepeated}}},
		{"a scalar parameter in another case", enforce, "GET", "/items?LIMIT=100000", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonCaseVariant}}},
		{"a scalar parameter in two cases", enforce, "GET", "/items?limit=5&Limit=100000", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonCaseVariant}}},
		{"an array parameter repeated", enforce, "GET", "/items?tag=a&tag=b", "", nil},
		{"an exploded object parameter", enforce, "GET", "/items?a=1&b=2", "", nil},
		{"an undeclared parameter repeated", enforce, "GET", "/items?x=1&x=2", "", nil},
		{"the users API limit twice", users, "GET", "/api/v1/users?limit=5&limit=100", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonRepeated}}},
		{"the users API role twice", users, "GET", "/api/v1/users?role=user&role=admin", "", []problem.InvalidParam{{Name: "role", In: "query", Reason: reasonRepeated}}},

		{"declared members", enforce, "POST", "/items", `{"role":"user","isAdmin":false,"owner":{"name":"a"},"parts":[{"kind":"x"}]}`, nil},
		{"undeclared members are not case variants", enforce, "POST", "/items", `{"color":"red","Colour":"blue"}`, nil},
		{"a case variant instead of a member", enforce, "POST", "/items", `{"Role":"admin"}`, []problem.InvalidParam{{Name: "/role", In: "body", Reason: reasonCaseVariant}}},
		{"an upper-case variant", enforce, "POST", "/items", `{"ISADMIN":true}`, []problem.InvalidParam{{Name: "/isAdmin", In: "body", Reason: reasonCaseVariant}}},
		{"a long s variant", enforce, "POST", "/items", `{"i\u017fAdmin":true}`, []problem.InvalidParam{{Name: "/isAdmin", In: "body", Reason: reasonCaseVariant}}},
		{"a nested case variant", enforce, "POST", "/items", `{"owner":{"NAME":"root"}}`, []problem.InvalidParam{{Name: "/owner/name", In: "body", Reason: reasonCaseVariant}}},
		{"a case variant in an array item", enforce, "POST", "/items", `{"parts":[{"kind":"a"},{"Kind":"b"}]}`, []problem.InvalidParam{{Name: "/parts/1/kind", In: "body", Reason: reasonCaseVariant}}},
		{"a case variant in report mode is recorded", report, "POST", "/items", `{"Role":"admin"}`, []problem.InvalidParam{{Name: "/role", In: "body", Reason: reasonCaseVariant}}},
		{"a repeated parameter in report mode is recorded", report, "GET", "/items?limit=1&limit=2", "", []problem.InvalidParam{{Name: "limit", In: "query", Reason: reasonRepeated}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			st := run(t, tc.v, request(tc.method, tc.target, ct, tc.body))
			if tc.want == nil {
				if !st.Input.Validation.Valid || st.Rejection != nil {
					t.Fatalf("rejected: %+v %v", st.Input.Validation, st.Rejection)
				}
				return
			}
			var got []problem.InvalidParam
			for _, e := range st.Input.Validation.Errors {
				if e.Reason == reasonRepeated || e.Reason == reasonCaseVariant {
					got = append(got, problem.InvalidParam(e))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("errors = %+v, want %+v", st.Input.Validation.Errors, tc.want)
			}
			if enforced := st.Rejection != nil; enforced != (tc.v.mode == ModeEnforce) {
				t.Fatalf("mode %s: rejection %v", tc.v.mode, st.Rejection)
			}
		})
	}
}

func TestOpenSchemas(t *testing.T) {
	t.Parallel()
	spec := filepath.Join(t.TempDir(), "open.yaml")
	if err := os.WriteFile(spec, []byte(openSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	// users.yaml closes every object (additionalProperties: false): kin-openapi
	// refuses a case variant itself, so the body is not decoded again.
	if open := newValidator(t, config.RouteOpenAPI{}).current.Load().openSchemas; len(open) != 0 {
		t.Fatalf("users.yaml: %d open body schemas, want 0", len(open))
	}
	if open := newValidator(t, config.RouteOpenAPI{Spec: spec}).current.Load().openSchemas; len(open) != 1 {
		t.Fatalf("open.yaml: %d open body schemas, want 1", len(open))
	}
	st := run(t, newValidator(t, config.RouteOpenAPI{}), request("POST", "/api/v1/users", "application/json", `{"name":"a","email":"a@example.com","Role":"admin"}`))
	if st.Rejection == nil {
		t.Fatal("a case variant passed a closed schema")
	}
}
