package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseReportsEveryProblem pins the exact report of broken files: every
// problem at once, type errors included, as file:line: field: message,
// ordered by line.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	route := "routes:\n  - name: r\n    match: {path_prefix: /}\n    upstream: http://127.0.0.1:1\n"
	bundles := "policy:\n  bundles: [{name: b, path: .}]\n"
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{"an unknown field gets the nearest known one",
			bundles + route + "    timout: 5s\n",
			[]string{`c.yaml:7: routes[0].timout: unknown field (did you mean "timeout"?)`}},
		{"a field far from every known one gets no suggestion",
			bundles + route + "    colour: red\n",
			[]string{`c.yaml:7: routes[0].colour: unknown field`}},
		{"a misspelt field is not also reported missing",
			bundles + "routes:\n  - name: r\n    match: {path_prefix: /}\n    upstrem: http://127.0.0.1:1\n",
			[]string{`c.yaml:6: routes[0].upstrem: unknown field (did you mean "upstream"?)`}},
		{"type errors do not stop the decode",
			"listen:\n  max_connections: lots\n  read_timeout: soon\n" + bundles + route + "    authn: {anonymous: maybe}\n    tags: {a: b}\n",
			[]string{
				`c.yaml:2: listen.max_connections: want an integer, got "lots"`,
				`c.yaml:3: listen.read_timeout: want a duration (e.g. 500ms, 30s, 5m), got "soon"`,
				`c.yaml:10: routes[0].authn.anonymous: want true or false, got "maybe"`,
				`c.yaml:11: routes[0].tags: want a list, got a mapping`,
			}},
		{"a custom type's error and a validation error are both reported",
			"limits:\n  max_body_bytes: 1 parsec\nlog:\n  level: loud\n" + bundles + route,
			[]string{
				`c.yaml:2: limits.max_body_bytes: invalid size unit in "1 parsec" (want B, KiB, MiB or GiB)`,
				`c.yaml:4: log.level: "loud" is not allowed (want "debug", "info", "warn", "error")`,
			}},
		{"a section of the wrong shape is reported once",
			"log: verbose\n" + bundles + route,
			[]string{`c.yaml:1: log: want a mapping, got "verbose"`}},
		{"a key set twice is reported at its second place",
			bundles + route + "    timeout: 5s\n    timeout: 6s\n",
			[]string{`c.yaml:8: routes[0].timeout: is set twice (first on line 7)`}},
		{"problems are ordered by line, not by section",
			bundles + "routes:\n  - name: r\n    match: {path_prefix: nope}\n    upstream: ftp://x\nlisten:\n  proxy: nowhere\n",
			[]string{
				`c.yaml:5: routes[0].match.path_prefix: "nope" must start with /`,
				`c.yaml:6: routes[0].upstream: "ftp://x" must be an absolute http or https URL`,
				`c.yaml:8: listen.proxy: "nowhere" is not host:port: address nowhere: missing port in address`,
			}},
		{"a problem without a line sorts first",
			"log:\n  levl: info\n",
			[]string{
				`c.yaml: policy.bundles: at least one bundle is required (without a policy every request is denied)`,
				`c.yaml: routes: at least one route is required`,
				`c.yaml:2: log.levl: unknown field (did you mean "level"?)`,
			}},
		{"merge keys and aliases decode like their expansion",
			"x-defaults: &d {timeout: 5s}\n" + bundles + route,
			[]string{`c.yaml:1: x-defaults: unknown field`}},
		{"a YAML syntax error stops at once",
			"routes: [\n",
			[]string{`c.yaml:1: did not find expected node content`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.yaml")
			_, err := Parse(path, []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v is not Errors", err)
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestMergeKeysAndAliasesDecode(t *testing.T) {
	t.Parallel()
	y := "policy:\n  bundles: [{name: b, path: .}]\nroutes:\n  - &base\n    name: a\n    match: {path_prefix: /a}\n    upstream: http://127.0.0.1:1\n    timeout: 7s\n  - <<: *base\n    name: b\n    match: {path_prefix: /b}\n"
	c, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Routes[1]; r.Name != "b" || r.Timeout.String() != "7s" || r.Upstream != "http://127.0.0.1:1" {
		t.Fatalf("merged route = %+v", r)
	}
}
