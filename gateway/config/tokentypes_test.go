package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const introspectionMinimal = "authn:\n  introspection:\n    endpoint: https://idp.example/introspect\n    client_id: gw\n"

func TestIntrospectionTokenTypesDefault(t *testing.T) {
	t.Parallel()
	c, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(introspectionMinimal+minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"access_token", "Bearer", "urn:ietf:params:oauth:token-type:access_token"}
	if got := c.Authn.Introspection.TokenTypes; !slices.Equal(got, want) {
		t.Fatalf("token_types = %q, want %q", got, want)
	}
}

func TestIntrospectionTokenTypesValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		types string
		want  string // "" = valid
	}{
		{name: "a list of types is valid", types: "[access_token, DPoP]"},
		{name: "an empty list is refused", types: "[]", want: `authn.introspection.token_types: must not be empty (omit it for the default access-token types)`},
		{name: "an empty type is refused", types: `[""]`, want: `authn.introspection.token_types[0]: "" is not a token type (want e.g. "access_token" or "Bearer")`},
		{name: "a type with spaces is refused", types: `[" Bearer"]`, want: `authn.introspection.token_types[0]: " Bearer" is not a token type`},
		{name: "a type with a control byte is refused", types: `["a\tb"]`, want: `authn.introspection.token_types[0]: "a\tb" is not a token type`},
		{name: "a type listed twice in another case is refused", types: "[Bearer, bearer]", want: `authn.introspection.token_types[1]: "bearer" is listed twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			y := introspectionMinimal + "    token_types: " + tc.types + "\n" + minimal
			_, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(y))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
