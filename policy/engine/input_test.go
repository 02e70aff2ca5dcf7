package engine

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenJSON compares v, as indented JSON, with testdata/name.
func goldenJSON(t *testing.T, name string, v ast.Value) {
	t.Helper()
	goVal, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(goVal, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", p, got)
	}
}

func TestInputDocumentShape(t *testing.T) {
	t.Parallel()
	body := typicalInput()
	body.Request.Method = "POST"
	body.Request.Body = map[string]any{"name": "test", "tags": []any{"a", json.Number("2")}, "nested": map[string]any{"ok": true, "none": nil}}
	body.Request.RawBody = []byte(`{"name":"test"}`)
	body.Validation = policy.Validation{Ran: true, Valid: false, Errors: []policy.ValidationError{{Name: "/email", In: "body", Reason: "required"}}}

	anon := typicalInput()
	anon.Identity = nil

	envoy := typicalInput()
	envoy.OPAEnvoy = true
	envoy.Request.Body = map[string]any{"name": "test"}
	envoy.Request.RawBody = []byte(`{"name":"test"}`)

	unvalidated := typicalInput()
	unvalidated.Validation = policy.Validation{}

	truncated := typicalInput()
	truncated.OPAEnvoy = true
	truncated.Request.BodyTruncated = true

	tests := []struct {
		name   string
		in     *policy.Input
		golden string
	}{
		{"a jwt GET without body", typicalInput(), "input_get.json"},
		{"a POST with body and validation errors", body, "input_post_body.json"},
		{"a nil identity is anonymous", anon, "input_anonymous.json"},
		{"a request that was not validated has no validation", unvalidated, "input_unvalidated.json"},
		{"opa-envoy compat adds attributes and parsed fields", envoy, "input_opa_envoy.json"},
		{"opa-envoy compat with a truncated body has a null parsed_body", truncated, "input_opa_envoy_truncated.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			goldenJSON(t, tc.golden, InputValue(tc.in))
		})
	}
}

func TestOPAEnvoyParsedPathComesFromTheNormalizedPath(t *testing.T) {
	t.Parallel()
	in := typicalInput()
	in.OPAEnvoy = true
	// The router normalized "/api/v1/public/../admin%2Fx" to these
	// segments; the raw path must never be re-split.
	in.Request.Path = "/api/v1/admin%2Fx"
	in.Request.Segments = []string{"api", "v1", "admin/x"}
	v := InputValue(in)
	got := v.(ast.Object).Get(ast.StringTerm("parsed_path"))
	want := ast.ArrayTerm(ast.StringTerm("api"), ast.StringTerm("v1"), ast.StringTerm("admin/x"))
	if got == nil || !got.Equal(want) {
		t.Errorf("parsed_path = %v, want %v", got, want)
	}
	path, err := v.(ast.Object).Find(ast.MustParseRef("x.attributes.request.http.path")[1:])
	if err != nil || path.Compare(ast.String("/api/v1/admin%2Fx?page=2")) != 0 {
		t.Errorf("attributes.request.http.path = %v (%v)", path, err)
	}
}

func TestClaimsOfEveryJSONTypeConvert(t *testing.T) {
	t.Parallel()
	in := typicalInput()
	in.Identity.Claims = map[string]any{
		"f": 1.5, "n": json.Number("12345678901234567890"), "s": "x", "b": false, "nil": nil,
		"arr": []any{1.0, "two"}, "obj": map[string]any{"k": []any{}}, "int": 7, "strs": []string{"a"},
		"bad": json.Number("not-a-number"),
	}
	v := InputValue(in)
	claims, err := v.(ast.Object).Find(ast.MustParseRef("x.identity.claims")[1:])
	if err != nil {
		t.Fatal(err)
	}
	got, err := ast.JSON(claims)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	want := `{"arr":[1,"two"],"b":false,"bad":null,"f":1.5,"int":7,"n":12345678901234567890,"nil":null,"obj":{"k":[]},"s":"x","strs":["a"]}`
	if string(b) != want {
		t.Errorf("claims = %s\nwant     %s", b, want)
	}
}

func FuzzInputValue(f *testing.F) {
	f.Add("GET", "/api/v1/users", "page", "2", `{"a":[1,2,{"b":null}]}`, "192.0.2.1:80")
	f.Add("POST", "/", "", "", `"str"`, "[::1]:9")
	f.Add("X", "/%2F/..", "k\x00", "\r\n", `[1e400]`, "bad")
	f.Fuzz(func(t *testing.T, method, path, qk, qv, body, remote string) {
		in := typicalInput()
		in.OPAEnvoy = true
		in.Request.Method, in.Request.Path, in.Request.RemoteAddr = method, path, remote
		in.Request.Query = map[string][]string{qk: {qv}}
		in.Request.RawBody = []byte(body)
		var parsed any
		d := json.NewDecoder(bytes.NewReader([]byte(body)))
		d.UseNumber()
		if d.Decode(&parsed) == nil {
			in.Request.Body = parsed
			in.Identity.Claims = map[string]any{"c": parsed}
		}
		v := InputValue(in)
		if _, err := ast.JSON(v); err != nil {
			t.Fatalf("input is not JSON-representable: %v", err)
		}
	})
}

func TestCachedIdentityIsConvertedOnce(t *testing.T) {
	t.Parallel()
	in := typicalInput()
	want := InputValue(in)
	in.Identity.Memo = new(policy.Memo)
	first, second := InputValue(in), InputValue(in)
	if first.Compare(want) != 0 || second.Compare(want) != 0 {
		t.Fatalf("memoized input differs:\n%v\nwant\n%v", first, want)
	}
	get := func(v ast.Value) *ast.Term { return v.(ast.Object).Get(ast.StringTerm("identity")) }
	if get(first) != get(second) {
		t.Fatal("the identity term was built twice")
	}
}
