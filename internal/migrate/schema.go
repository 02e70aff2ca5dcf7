package migrate

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// schemaDepth is how many path segments below a route's prefix the
// generated OpenAPI fragment covers. The input gateways validate the body
// of every request on the route; OpenAPI has no wildcard paths, so deeper
// paths pass unvalidated (MIGRATION.md says so).
const schemaDepth = 4

// schema writes the OpenAPI fragment of a route's body schema and returns
// its path relative to the config.
func (w *writer) schema(er expanded) string {
	r := er.r
	methods := r.BodyMethods
	if len(methods) == 0 {
		methods = []string{"POST", "PUT", "PATCH"}
	}
	types := r.ContentTypes
	if len(types) == 0 {
		types = []string{"application/json"}
	}
	content := map[string]any{}
	for _, t := range types {
		content[t] = map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Body"}}
	}
	op := func(params []any) map[string]any {
		o := map[string]any{
			"requestBody": map[string]any{"required": true, "content": content},
			"responses":   map[string]any{"default": map[string]any{"description": "The upstream's answer."}},
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		return o
	}
	paths := map[string]any{}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "Request bodies of route " + er.name + " (imported; MIGRATION.md)",
			"version": "imported",
		},
		"paths":      paths,
		"components": map[string]any{"schemas": map[string]any{"Body": r.BodySchema}},
	}
	addOps := func(path string, params []any) {
		ops := map[string]any{}
		for _, m := range methods {
			ops[strings.ToLower(m)] = op(params)
		}
		paths[path] = ops
	}
	if r.Path != "" {
		addOps(r.Path, nil)
	} else {
		if base := strings.TrimRight(r.PathPrefix, "/"); base != "" {
			doc["servers"] = []any{map[string]any{"url": base}}
		}
		addOps("/", nil)
		path := ""
		var params []any
		for i := 1; i <= schemaDepth; i++ {
			name := fmt.Sprintf("p%d", i)
			path += "/{" + name + "}"
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			addOps(path, append([]any(nil), params...))
		}
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		w.errs = append(w.errs, fmt.Errorf("encode schema of route %s: %w", er.name, err))
		return ""
	}
	name := "schemas/" + fileName(er.name) + ".yaml"
	w.file(name, "# Written by `portcullis import`: the request body schema of route "+er.name+".\n"+b.String(), 0o644)
	return name
}
