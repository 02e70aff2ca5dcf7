package input

import (
	"slices"
	"strings"
	"testing"
)

// splitPath is how Routed split the path before segments: strings.Split
// of the path without its outer slashes, and none for slashes only.
func splitPath(path string) []string {
	s := strings.Split(strings.Trim(path, "/"), "/")
	if len(s) == 1 && s[0] == "" {
		return s[:0]
	}
	return s
}

func TestSegmentsAreTheSplitPath(t *testing.T) {
	for _, path := range []string{
		"", "/", "//", "///", "/a", "a", "/a/", "//a//", "/a/b", "/a//b", "/api/v1/users",
		"/api/v1/users/bench-user-00001", "/a/b/c/d/e/f", "/a/b/c/d/", "/%2F/x", "/ a /b",
	} {
		var backing [4]string
		got := segments(backing[:0], path)
		want := splitPath(path)
		if !slices.Equal(got, want) || got == nil {
			t.Errorf("segments(%q) = %q, want %q (non-nil)", path, got, want)
		}
	}
}

func FuzzSegments(f *testing.F) {
	for _, s := range []string{"", "/", "/a//b/", "/api/v1/users/x", "/a/b/c/d/e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		var backing [4]string
		if got, want := segments(backing[:0], path), splitPath(path); !slices.Equal(got, want) {
			t.Fatalf("segments(%q) = %q, want %q", path, got, want)
		}
	})
}
