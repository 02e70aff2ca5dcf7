package validate

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

// paramSpec has several server bases, path parameters with patterns and
// types, query parameters of every primitive type with and without
// formats, required and allowEmptyValue, arrays in several styles, a
// label-style and a matrix-style path parameter, and a declared HEAD.
const paramSpec = `openapi: 3.0.3
info: {title: p, version: "1"}
servers:
  - url: https://a.example/api/v1
  - url: /v2/
  - url: https://b.example
paths:
  /users/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, pattern: "^u-[0-9]{3}$"}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
        - {name: small, in: query, schema: {type: integer, format: int32, maximum: 5}}
        - {name: ratio, in: query, schema: {type: number, minimum: 0, exclusiveMinimum: true, multipleOf: 0.5}}
        - {name: flag, in: query, required: true, schema: {type: boolean}}
        - {name: name, in: query, allowEmptyValue: true, schema: {type: string, minLength: 2}}
        - {name: opt, in: query, schema: {type: string, enum: [a, b], nullable: true}}
        - {name: tags, in: query, schema: {type: array, items: {type: integer}}}
        - {name: csv, in: query, explode: false, schema: {type: array, items: {type: string, maxLength: 2}}}
        - {name: sp, in: query, style: spaceDelimited, schema: {type: array, items: {type: number}}}
        - {name: any, in: query, schema: {anyOf: [{type: integer}, {type: boolean}]}}
        - {name: typeless, in: query, schema: {pattern: "^x"}}
      responses: {"200": {description: ok}}
    delete:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses: {"204": {description: ok}}
  /items/{n}/{flag}/{label}:
    parameters:
      - {name: n, in: path, required: true, schema: {type: integer, minimum: 10}}
      - {name: flag, in: path, required: true, schema: {type: boolean}}
      - {name: label, in: path, required: true, style: label, schema: {type: string}}
    get:
      responses: {"200": {description: ok}}
    head:
      parameters:
        - {name: n, in: path, required: true, schema: {type: number, maximum: 50}}
      responses: {"200": {description: ok}}
  /m/{mx}:
    parameters:
      - {name: mx, in: path, required: true, style: matrix, explode: true, schema: {type: array, items: {type: integer}}}
    get:
      responses: {"200": {description: ok}}
    post:
      responses: {"200": {description: ok}}
  /:
    get:
      responses: {"200": {description: ok}}
  /a/{x}.json:
    get:
      parameters:
        - {name: x, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
`

// paramTargets are requests over paramSpec for the differential tests.
var paramTargets = []struct{ method, target string }{
	{"GET", "/api/v1/users/u-123?flag=true&limit=10"},
	{"GET", "/api/v1/users/u-12?flag=yes&limit=0&small=9&ratio=0&name=&opt=c"},
	{"GET", "/v2/users/u-123?flag=false&ratio=1.5&name=a&tags=1&tags=x&csv=ab,abc&sp=1%202&any=true&typeless=y"},
	{"GET", "/users/u-123?limit=&limit=5&small=3000000000&ratio=0x1p4&flag="},
	{"GET", "/users/U-123/"},
	{"HEAD", "/api/v1/users/u-123?flag=1"},
	{"HEAD", "/api/v1/items/20/true/.x"},
	{"GET", "/api/v1/items/9/maybe/x"},
	{"HEAD", "/api/v1/items/60.5/true/x"},
	{"GET", "/api/v1/m/;mx=1;mx=2"},
	{"GET", "/api/v1/m/;mx=1;mx=y"},
	{"POST", "/api/v1/users/u-123"},
	{"PUT", "/api/v1/m/x"},
	{"GET", "/api/v1"},
	{"GET", "/api/v1/"},
	{"GET", "/"},
	{"GET", "/api/v1/a/b.json"},
	{"GET", "/api/v1/users/"},
	{"GET", "/api/v1/users//x"},
	{"GET", "/v2"},
	{"GET", "/api/v1x/users/u-123?flag=true"},
	{"OPTIONS", "*"},
	{"get", "/users/u-123?flag=true"},
}

func TestFindIsTheLegacyRouters(t *testing.T) {
	t.Parallel()
	docs := []*compiled{
		newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "params.yaml", paramSpec)}).current.Load(),
		newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "diff.yaml", diffSpec)}).current.Load(),
		newValidator(t, config.RouteOpenAPI{}).current.Load(),
		newValidator(t, config.RouteOpenAPI{Spec: "../../tests/bench/peer-openapi.yaml"}).current.Load(),
	}
	targets := slices.Clone(paramTargets)
	for _, p := range []string{"/api/v1/users", "/api/v1/users/" + userID, "/api/v1/users/x/y", "/things/abc", "/things/", "/api/v1/upload", "/api/v1/users/bench-user-00001"} {
		for _, m := range methods {
			targets = append(targets, struct{ method, target string }{m, p})
		}
	}
	matched := 0
	for _, c := range docs {
		for _, tt := range targets {
			r, err := http.NewRequest(tt.method, "http://x"+tt.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := findDiff(t, c, r); d != "" {
				t.Errorf("%s %s: %s", tt.method, tt.target, d)
			}
			if f, _ := c.find(r); f.route != nil {
				matched++
			}
		}
	}
	if matched < 40 {
		t.Fatalf("only %d requests matched an operation", matched)
	}
}

// FuzzFindIsTheLegacyRouters compares find with kin-openapi's router on
// any method and path.
func FuzzFindIsTheLegacyRouters(f *testing.F) {
	for _, tt := range paramTargets {
		f.Add(tt.method, tt.target)
	}
	c := newValidator(f, config.RouteOpenAPI{Spec: writeSpec(f, "params.yaml", paramSpec)}).current.Load()
	users := newValidator(f, config.RouteOpenAPI{}).current.Load()
	f.Fuzz(func(t *testing.T, method, target string) {
		r, err := http.NewRequest(method, "http://x"+target, nil)
		if err != nil {
			return
		}
		for _, c := range []*compiled{c, users} {
			if d := findDiff(t, c, r); d != "" {
				t.Fatalf("%q %q: %s", method, target, d)
			}
		}
	})
}

// findDiff says how find's match for r differs from the router's.
func findDiff(t testing.TB, c *compiled, r *http.Request) string {
	rq, route, params, allow := legacyFind(t, c, r)
	f, gotAllow := c.find(r)
	switch {
	case (f.route == nil) != (route == nil):
		return "matched differently"
	case route == nil && !slices.Equal(gotAllow, allow):
		return "allows " + join(gotAllow) + ", want " + join(allow)
	case route == nil:
		return ""
	case f.route.Operation != route.Operation || f.route.PathItem != route.PathItem || f.route.Path != route.Path || f.route.Method != route.Method:
		return "another operation: " + f.route.Method + " " + f.route.Path + ", want " + route.Method + " " + route.Path
	case !maps.Equal(f.params, params) || f.params == nil:
		return "other path parameters"
	case f.path != rq.URL.Path:
		return "path " + f.path + ", want " + rq.URL.Path
	case f.route.Spec.IsOpenAPI31OrLater() != route.Spec.IsOpenAPI31OrLater() || f.route.Spec.Components != route.Spec.Components:
		return "another document"
	}
	return ""
}

func join(s []string) string {
	return "[" + strings.Join(s, " ") + "]"
}
