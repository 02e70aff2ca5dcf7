package validate

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// diffSpec exercises what the prepared operations take over from
// ValidateRequest: document-wide security, path-item parameters an
// operation overrides, header and cookie parameters, JSON, +json, form,
// text and binary bodies, an encoding, an optional body.
const diffSpec = `openapi: 3.0.3
info: {title: t, version: "1"}
security: [{key: []}]
paths:
  /things/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, pattern: "^[a-z]+$"}}
      - {name: v, in: query, schema: {type: integer, minimum: 1}}
      - {name: X-Trace, in: header, schema: {type: string, maxLength: 4}}
    get:
      security: []
      parameters:
        - {name: v, in: query, required: true, schema: {type: string, enum: [a, b]}}
        - {name: sid, in: cookie, schema: {type: string, format: uuid}}
        - {name: tags, in: query, schema: {type: array, items: {type: integer}}}
        - {name: obj, in: query, content: {application/json: {schema: {type: object, required: [k]}}}}
      responses: {"200": {description: ok}}
    put:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Thing"}
          application/merge-patch+json:
            schema: {$ref: "#/components/schemas/Thing"}
          application/x-www-form-urlencoded:
            schema: {$ref: "#/components/schemas/Thing"}
          text/plain:
            schema: {type: string, maxLength: 3}
      responses: {"200": {description: ok}}
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {n: {type: integer}}}
            encoding: {n: {contentType: text/plain}}
          application/octet-stream:
            schema: {type: string, format: binary}
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
  schemas:
    Thing:
      type: object
      required: [name]
      additionalProperties: false
      properties:
        name: {type: string, minLength: 1}
        mail: {type: string, format: email}
        n: {type: number, multipleOf: 2}
        list: {type: array, maxItems: 2, items: {type: string, format: uuid}}
`

// generic is what check reported before operations were prepared:
// kin-openapi's router on a request copy, then ValidateRequest with the
// body as a reader, translated.
func generic(t testing.TB, c *compiled, r *http.Request, raw []byte) []problem.InvalidParam {
	rq, route, params, _ := legacyFind(t, c, r)
	if route == nil {
		return nil
	}
	rq.Body, rq.ContentLength, rq.GetBody = http.NoBody, int64(len(raw)), nil
	if len(raw) > 0 {
		rq.Body = io.NopCloser(bytes.NewReader(raw))
	}
	err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: rq, PathParams: params, QueryParams: rq.URL.Query(), Route: route, Options: c.opts,
	})
	if err == nil {
		return nil
	}
	return translate(nil, err, true)
}

// prepared is the same through find and the prepared operation.
func prepared(t testing.TB, c *compiled, r *http.Request, raw []byte) []problem.InvalidParam {
	f, _ := c.find(r)
	if f.route == nil {
		return nil
	}
	o := c.ops[f.route.Operation]
	if o == nil {
		t.Fatalf("%s %s: no prepared operation", r.Method, r.URL)
	}
	ct := r.Header.Get("Content-Type")
	var mt *openapi3.MediaType
	if o.body != nil && len(raw) > 0 {
		mt = o.body.Content.Get(ct)
	}
	return c.validate(r.Context(), nil, o, r, f, r.URL.Query(), raw, ct, mt, true)
}

func diffRequest(method, target, ct, raw string, hdr ...string) *http.Request {
	r := request(method, target, ct, "")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func TestPreparedOperationsMatchValidateRequest(t *testing.T) {
	t.Parallel()
	diff := newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "diff.yaml", diffSpec)}).current.Load()
	users := newValidator(t, config.RouteOpenAPI{}).current.Load()
	const js = "application/json"
	tests := []struct {
		c   *compiled
		r   *http.Request
		raw string
	}{
		{users, diffRequest("POST", "/api/v1/users", js, ""), `{"name":"Ada","email":"ada@example.com"}`},
		{users, diffRequest("POST", "/api/v1/users", "Application/JSON; charset=utf-8", ""), `{"name":"","email":"no","role":"x","extra":1}`},
		{users, diffRequest("POST", "/api/v1/users", js, ""), ``},
		{users, diffRequest("POST", "/api/v1/users", js, ""), `[1,2]`},
		{users, diffRequest("POST", "/api/v1/users", js, ""), `{"name":1e400,"email":"a@b"}`},
		{users, diffRequest("POST", "/api/v1/users", js, ""), `{"name":"a"} trailing`},
		{users, diffRequest("POST", "/api/v1/users", js, ""), `{"name":`},
		{users, diffRequest("PUT", "/api/v1/users/"+userID, js, ""), `{"name":"a","email":"a@b"}`},
		{users, diffRequest("GET", "/api/v1/users/not-a-uuid", "", ""), ``},
		{users, diffRequest("GET", "/api/v1/users?limit=0&role=boss&limit=x", "", ""), ``},
		{users, diffRequest("POST", "/api/v1/upload", "application/octet-stream", ""), "\x00\x01"},
		{users, diffRequest("POST", "/api/v1/upload", "application/octet-stream", ""), ""},
		{diff, diffRequest("GET", "/things/abc?v=a", "", ""), ``},
		{diff, diffRequest("GET", "/things/ABC?v=1&tags=1,x&obj=%7B%7D", "", "", "X-Trace", "toolong", "Cookie", "sid=nope"), ``},
		{diff, diffRequest("GET", "/things/abc?obj=notjson", "", ""), ``},
		{diff, diffRequest("PUT", "/things/abc?v=0", js, ""), `{"name":"x","mail":"a b@c","n":3,"list":["x","y","z"]}`},
		{diff, diffRequest("PUT", "/things/abc", js, "", "X-Key", "k"), `{"name":"x"}`},
		{diff, diffRequest("PUT", "/things/abc", "application/merge-patch+json", ""), `{"name":""}`},
		{diff, diffRequest("PUT", "/things/abc", "application/x-www-form-urlencoded", ""), `name=&n=3`},
		{diff, diffRequest("PUT", "/things/abc", "text/plain", ""), `long`},
		{diff, diffRequest("PUT", "/things/abc", js, ""), ``},
		{diff, diffRequest("POST", "/things/abc", js, ""), `{"n":"1"}`},
		{diff, diffRequest("POST", "/things/abc", "application/octet-stream", ""), `bytes`},
		{diff, diffRequest("POST", "/things/abc", js, ""), ``},
	}
	params := newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "params.yaml", paramSpec)}).current.Load()
	for _, pt := range paramTargets {
		tests = append(tests, struct {
			c   *compiled
			r   *http.Request
			raw string
		}{params, diffRequest(pt.method, pt.target, "", ""), ""})
	}
	reported := 0
	for _, tt := range tests {
		raw := []byte(tt.raw)
		want, got := generic(t, tt.c, tt.r, raw), prepared(t, tt.c, tt.r, raw)
		reported += len(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s %q:\n got  %+v\n want %+v", tt.r.Method, tt.r.URL, tt.raw, got, want)
		}
	}
	if reported < 40 {
		t.Fatalf("only %d errors reported: the cases test too little", reported)
	}
}

// FuzzPreparedOperations compares the prepared operations with
// ValidateRequest on any body, media type and target that body.Read lets through.
func FuzzPreparedOperations(f *testing.F) {
	for _, s := range []string{`{"name":"x","mail":"a@b","n":2}`, `{"name":1}`, `[]`, `null`, `{"list":["00000000-0000-0000-0000-000000000000"]}`} {
		f.Add([]byte(s), "application/json", "PUT", "/things/abc?v=2")
	}
	f.Add([]byte(`name=a`), "application/x-www-form-urlencoded", "PUT", "/things/abc")
	f.Add([]byte(``), "", "GET", "/things/abc?v=b&tags=1&tags=2")
	f.Add([]byte(`{"name":"Ada","email":"ada@example.com"}`), "application/json", "POST", "/api/v1/users")
	diff := newValidator(f, config.RouteOpenAPI{Spec: writeSpec(f, "diff.yaml", diffSpec)}).current.Load()
	users := newValidator(f, config.RouteOpenAPI{}).current.Load()
	params := newValidator(f, config.RouteOpenAPI{Spec: writeSpec(f, "params.yaml", paramSpec)}).current.Load()
	for _, pt := range paramTargets {
		f.Add([]byte(nil), "", pt.method, pt.target)
	}
	f.Fuzz(func(t *testing.T, raw []byte, ct, method, target string) {
		r, err := http.NewRequest(method, "http://x"+target, nil)
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", ct)
		if body.CheckContentType(r.Header) != nil || body.IsJSON(ct) && body.CheckJSON(raw, 32, 10000) != nil {
			return
		}
		for _, c := range []*compiled{diff, users, params} {
			want, got := generic(t, c, r, raw), prepared(t, c, r, raw)
			if !slices.Equal(got, want) {
				t.Fatalf("%s %s %q %q:\n got  %+v\n want %+v", method, target, ct, raw, got, want)
			}
		}
	})
}
