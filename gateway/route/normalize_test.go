package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	strict := config.Paths{RejectDotSegments: true, RejectDoubleSlash: true}
	tests := []struct {
		name string
		raw  string
		opts config.Paths
		want string
		err  error
	}{
		{"a plain path is unchanged", "/api/v1/users", config.Paths{}, "/api/v1/users", nil},
		{"the root is unchanged", "/", config.Paths{}, "/", nil},
		{"a trailing slash is kept", "/api/v1/", config.Paths{}, "/api/v1/", nil},
		{"dot-dot is resolved", "/api/v1/../admin", config.Paths{}, "/api/admin", nil},
		{"a single dot is removed", "/api/./v1/./users", config.Paths{}, "/api/v1/users", nil},
		{"a trailing dot-dot leaves a trailing slash", "/api/v1/..", config.Paths{}, "/api/", nil},
		{"repeated slashes are merged", "//admin///x", config.Paths{}, "/admin/x", nil},
		{"an encoded letter is decoded", "/api/%61dmin", config.Paths{}, "/api/admin", nil},
		{"a dotfile segment is kept", "/.well-known/jwks.json", config.Paths{}, "/.well-known/jwks.json", nil},
		{"dot-dot above the root is rejected", "/../etc/passwd", config.Paths{}, "", ErrAboveRoot},
		{"an encoded slash is rejected", "/api/v1%2Fadmin", config.Paths{}, "", ErrEncodedSlash},
		{"a lower-case encoded slash is rejected", "/api/v1%2fadmin", config.Paths{}, "", ErrEncodedSlash},
		{"an encoded backslash is rejected", "/api/v1%5Cadmin", config.Paths{}, "", ErrEncodedSlash},
		{"encoded dot-dot is rejected", "/api/v1/%2e%2e/admin", config.Paths{}, "", ErrEncodedDot},
		{"a half-encoded dot-dot is rejected", "/api/v1/.%2E/admin", config.Paths{}, "", ErrEncodedDot},
		{"double encoding is rejected", "/api/v1/%252e%252e/admin", config.Paths{}, "", ErrEncodedPct},
		{"a backslash is rejected", `/api\..\admin`, config.Paths{}, "", ErrBackslash},
		{"a semicolon is rejected", "/api/v1/..;/admin", config.Paths{}, "", ErrSemicolon},
		{"an encoded semicolon is rejected", "/api/v1/x%3Bjsessionid", config.Paths{}, "", ErrSemicolon},
		{"an encoded NUL is rejected", "/api/v1/x%00.json", config.Paths{}, "", ErrControl},
		{"a raw tab is rejected", "/api/\tv1", config.Paths{}, "", ErrControl},
		{"an encoded newline is rejected", "/api/%0d%0aSet-Cookie:x", config.Paths{}, "", ErrControl},
		{"a raw non-ASCII byte is rejected", "/api/\xc3\xa9", config.Paths{}, "", ErrNonASCII},
		{"a truncated escape is rejected", "/api/%4", config.Paths{}, "", ErrBadEscape},
		{"a non-hex escape is rejected", "/api/%zz", config.Paths{}, "", ErrBadEscape},
		{"an asterisk target is rejected", "*", config.Paths{}, "", ErrNotOrigin},
		{"an absolute URI is rejected", "http://x/", config.Paths{}, "", ErrNotOrigin},
		{"strict mode rejects dot-segments", "/api/v1/../admin", strict, "", ErrDotSegment},
		{"strict mode rejects double slashes", "/api//v1", strict, "", ErrDoubleSlash},
		{"strict mode still accepts plain paths", "/api/v1/users/", strict, "/api/v1/users/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tc.raw, tc.opts)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tc.raw, err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// FuzzNormalize checks that normalization never panics, that its output is
// canonical (normalizing it again changes nothing, once re-encoded as a
// client would send it), and that no dot-segment or empty segment survives.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x", "/%2e%2e/", "/a%2fb", "/a/./b/", "/%41", "/a;b", "/..", "/%25"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize(raw, config.Paths{})
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("Normalize(%q) = %q does not start with /", raw, got)
		}
		for _, seg := range strings.Split(strings.TrimSuffix(got[1:], "/"), "/") {
			if seg == "." || seg == ".." || (seg == "" && got != "/") {
				t.Fatalf("Normalize(%q) = %q keeps segment %q", raw, got, seg)
			}
		}
		if strings.ContainsAny(got, "\\;\x00") {
			t.Fatalf("Normalize(%q) = %q keeps a forbidden character", raw, got)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("/api/v1/users/42", config.Paths{}); err != nil {
			b.Fatal(err)
		}
	}
}
