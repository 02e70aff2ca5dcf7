package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

const head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n"

func writeSpec(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want string // regexp over the error; "" means success
	}{
		{name: "the users spec loads", text: ""},
		{name: "a YAML syntax error names the file and line", text: head + "  /a:\n    get: [\n", want: `^.*/bad\.yaml: .*line \d+`},
		{name: "an invalid operation names the file and its line", text: head + "  /a:\n    get:\n      responses: {'200': {description: ok}}\n      parameters:\n        - {name: q, in: nowhere, schema: {type: string}}\n",
			want: `^.*/bad\.yaml:5: .*invalid operation GET`},
		{name: "an invalid component schema names its line", text: head + "  /a: {}\ncomponents:\n  schemas:\n    X: {type: strin}\n", want: `^.*/bad\.yaml:7: `},
		{name: "a reference to a URL is refused", text: head + "  /a:\n    get:\n      responses: {'200': {description: ok, content: {application/json: {schema: {$ref: 'http://127.0.0.1:1/x.yaml'}}}}}\n",
			want: `only local files may be referenced`},
		{name: "a missing file is an error naming it", text: "-", want: `missing\.yaml`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := usersSpec
			switch tc.text {
			case "":
			case "-":
				path = filepath.Join(t.TempDir(), "missing.yaml")
			default:
				path = writeSpec(t, "bad.yaml", tc.text)
			}
			doc, err := Load(path)
			if tc.want == "" {
				if err != nil || doc == nil {
					t.Fatalf("Load = %v", err)
				}
				return
			}
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("Load error = %v, want match %q", err, tc.want)
			}
		})
	}
}

func TestOpenAPI31(t *testing.T) {
	t.Parallel()
	spec := writeSpec(t, "v31.yaml", `openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /contacts:
    post:
      operationId: addContact
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [email]
              properties:
                email: {type: [string, "null"], format: email}
                kind: {const: person}
      responses: {'201': {description: ok}}
`)
	v := newValidator(t, config.RouteOpenAPI{Spec: spec})
	tests := []struct {
		name  string
		body  string
		valid bool
	}{
		{name: "a null email is valid by the type array", body: `{"email":null}`, valid: true},
		{name: "a good email and const value are valid", body: `{"email":"a@b.c","kind":"person"}`, valid: true},
		{name: "a bad email is invalid", body: `{"email":"nope"}`},
		{name: "a wrong const is invalid", body: `{"email":"a@b.c","kind":"robot"}`},
		{name: "an extra field is invalid", body: `{"email":"a@b.c","x":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := run(t, v, request("POST", "/contacts", "application/json", tc.body))
			if got := st.Rejection == nil; got != tc.valid {
				t.Fatalf("valid = %v (%v), want %v", got, st.Rejection, tc.valid)
			}
			if !tc.valid {
				if p := problem.As(st.Rejection); p.Status != 400 || len(p.InvalidParams) == 0 {
					t.Fatalf("problem = %+v", p)
				}
			}
		})
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    config.RouteOpenAPI
		want string
	}{
		{name: "an empty spec path is an error", o: config.RouteOpenAPI{}, want: `route "r": openapi.spec is empty`},
		{name: "an unknown mode is an error", o: config.RouteOpenAPI{Spec: usersSpec, Mode: "strict"}, want: `route "r": openapi.mode "strict" (want "enforce", "report" or "off")`},
		{name: "an unknown unknown_operation is an error", o: config.RouteOpenAPI{Spec: usersSpec, UnknownOperation: "allow"}, want: `route "r": openapi.unknown_operation "allow" (want "reject" or "pass")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(&config.Route{Name: "r", OpenAPI: tc.o}, Options{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}
