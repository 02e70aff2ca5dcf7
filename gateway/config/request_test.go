package config

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSecretQueryParamsExtendTheDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte("request:\n  secret_query_params: [x-custom, token]\n"+minimal))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Request.SecretQueryParams
	if !slices.Equal(got[:len(DefaultSecretQueryParams)], DefaultSecretQueryParams) || got[len(got)-1] != "x-custom" ||
		len(got) != len(DefaultSecretQueryParams)+1 {
		t.Fatalf("secret_query_params = %v", got)
	}
	c, err = Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(minimal))
	if err != nil || !slices.Equal(c.Request.SecretQueryParams, DefaultSecretQueryParams) || c.Paths.Lowercase {
		t.Fatalf("defaults: %v %v %v", c.Request.SecretQueryParams, c.Paths.Lowercase, err)
	}
}

func TestRequestAndLowercaseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"an empty secret name", "request:\n  secret_query_params: [' ']\n" + minimal, `request.secret_query_params: " " is empty (want a parameter name)`},
		{"an upper-case prefix with lowercase", "paths: {lowercase: true}\n" + strings.Replace(minimal, "path_prefix: /", "path_prefix: /API", 1),
			`routes[0].match.path_prefix: "/API" (want lower case: paths.lowercase is set)`},
		{"an upper-case template literal with lowercase", "paths: {lowercase: true}\n" + strings.Replace(minimal, "path_prefix: /", "path: \"/Users/{ID}\"", 1),
			`routes[0].match.path: "/Users/{ID}" (want lower case: paths.lowercase is set)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A template variable may be spelt in any case.
	if _, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte("paths: {lowercase: true}\n"+strings.Replace(minimal, "path_prefix: /", "path: \"/users/{userID}\"", 1))); err != nil {
		t.Fatal(err)
	}
}
