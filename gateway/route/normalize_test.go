package route

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/portcullis/portcullis/gateway/config"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	strict := config.Paths{RejectDotSegments: true, RejectDoubleSlash: true}
	lower := config.Paths{Lowercase: true}
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

		// Percent-decoded bytes must be UTF-8.
		{"an encoded letter with an accent is kept", "/caf%C3%A9", config.Paths{}, "/caf\u00e9", nil},
		{"CJK is kept", "/%E6%97%A5%E6%9C%AC", config.Paths{}, "/\u65e5\u672c", nil},
		{"an emoji is kept", "/tags/%F0%9F%8E%89", config.Paths{}, "/tags/\U0001F389", nil},
		{"an overlong dot is rejected", "/api/%c0%ae%c0%ae/admin", config.Paths{}, "", errOverlong},
		{"an overlong slash is rejected", "/api/%c0%af", config.Paths{}, "", errOverlong},
		{"a three-byte overlong dot is rejected", "/api/%e0%80%ae", config.Paths{}, "", errOverlong},
		{"a four-byte overlong slash is rejected", "/api/%f0%80%80%af", config.Paths{}, "", errOverlong},
		{"a high surrogate is rejected", "/api/%ed%a0%80", config.Paths{}, "", errSurrogate},
		{"a low surrogate is rejected", "/api/%ed%bf%bf", config.Paths{}, "", errSurrogate},
		{"a truncated two-byte sequence is rejected", "/api/%c3", config.Paths{}, "", errTruncated},
		{"a truncated three-byte sequence is rejected", "/api/%e6%97/x", config.Paths{}, "", errTruncated},
		{"a lone continuation byte is rejected", "/api/%80", config.Paths{}, "", errStrayByte},
		{"a code point above U+10FFFF is rejected", "/api/%f4%90%80%80", config.Paths{}, "", errOutOfRange},
		{"an F5 lead byte is rejected", "/api/%f5%80%80%80", config.Paths{}, "", errOutOfRange},
		{"any invalid UTF-8 is ErrInvalidUTF8", "/api/%ff", config.Paths{}, "", ErrInvalidUTF8},

		// Look-alikes of the delimiters and characters that fold to ASCII.
		{"a fullwidth dot-dot is rejected", "/api/%EF%BC%8E%EF%BC%8E/admin", config.Paths{}, "", ErrCompatASCII},
		{"a fullwidth solidus is rejected", "/api%EF%BC%8Fadmin", config.Paths{}, "", ErrCompatASCII},
		{"a fullwidth reverse solidus is rejected", "/api%EF%BC%BCadmin", config.Paths{}, "", ErrCompatASCII},
		{"a one dot leader is rejected", "/api/%E2%80%A4%E2%80%A4/x", config.Paths{}, "", ErrCompatASCII},
		{"a two dot leader is rejected", "/api/%E2%80%A5", config.Paths{}, "", ErrCompatASCII},
		{"a small full stop is rejected", "/api/%EF%B9%92", config.Paths{}, "", ErrCompatASCII},
		{"a fullwidth semicolon is rejected", "/api/x%EF%BC%9Bjsessionid", config.Paths{}, "", ErrCompatASCII},
		{"a fullwidth percent sign is rejected", "/api/%EF%BC%85", config.Paths{}, "", ErrCompatASCII},
		{"a small reverse solidus is rejected", "/api/%EF%B9%A8", config.Paths{}, "", ErrCompatASCII},
		{"a fullwidth letter is rejected", "/api/v1/%EF%BD%81dmin", config.Paths{}, "", ErrCompatASCII},
		{"the Kelvin sign is rejected", "/api/%E2%84%AAey", config.Paths{}, "", ErrCompatASCII},
		{"a long s is rejected", "/api/%C5%BFtatus", config.Paths{}, "", ErrCompatASCII},
		{"a dotless i is rejected", "/api/v1/adm%C4%B1n", config.Paths{}, "", ErrCompatASCII},
		{"a dotted capital I is rejected", "/api/%C4%B0d", config.Paths{}, "", ErrCompatASCII},
		{"a ligature is rejected", "/api/%EF%AC%81le", config.Paths{}, "", ErrCompatASCII},
		{"a division slash is rejected", "/api%E2%88%95admin", config.Paths{}, "", ErrSymbol},
		{"a fraction slash is rejected", "/api%E2%81%84admin", config.Paths{}, "", ErrSymbol},
		{"a big solidus is rejected", "/api%E2%A7%B8admin", config.Paths{}, "", ErrSymbol},
		{"a set minus is rejected", "/api%E2%88%96admin", config.Paths{}, "", ErrSymbol},
		{"a middle dot is rejected", "/api/%C2%B7", config.Paths{}, "", ErrSymbol},

		// Whitespace and format characters.
		{"an encoded space is rejected", "/api/admin%20", config.Paths{}, "", ErrInvisible},
		{"a raw space is rejected", "/api/ad min", config.Paths{}, "", ErrInvisible},
		{"a no-break space is rejected", "/api/admin%C2%A0", config.Paths{}, "", ErrInvisible},
		{"an ideographic space is rejected", "/api/%E3%80%80admin", config.Paths{}, "", ErrInvisible},
		{"a zero-width space is rejected", "/api/ad%E2%80%8Bmin", config.Paths{}, "", ErrInvisible},
		{"a byte order mark is rejected", "/api/%EF%BB%BFadmin", config.Paths{}, "", ErrInvisible},
		{"a right-to-left override is rejected", "/api/%E2%80%AEnimda", config.Paths{}, "", ErrInvisible},
		{"a line separator is rejected", "/api/%E2%80%A8", config.Paths{}, "", ErrInvisible},
		{"a paragraph separator is rejected", "/api/%E2%80%A9", config.Paths{}, "", ErrInvisible},
		{"a C1 control is rejected", "/api/%C2%85", config.Paths{}, "", ErrInvisible},
		{"a soft hyphen is rejected", "/api/ad%C2%ADmin", config.Paths{}, "", ErrInvisible},
		{"a zero-width joiner is rejected", "/api/ad%E2%80%8Dmin", config.Paths{}, "", ErrInvisible},

		// paths.lowercase.
		{"lowercase folds a plain path", "/API/V1/ADMIN", lower, "/api/v1/admin", nil},
		{"lowercase leaves a lower-case path alone", "/api/v1/admin", lower, "/api/v1/admin", nil},
		{"lowercase folds an encoded path", "/API/%41dmin/../Users", lower, "/api/users", nil},
		{"lowercase folds non-ASCII letters", "/CAF%C3%89", lower, "/caf\u00e9", nil},
		{"lowercase still rejects the Kelvin sign", "/%E2%84%AA", lower, "", ErrCompatASCII},
		{"without lowercase the case is kept", "/API/V1", config.Paths{}, "/API/V1", nil},
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

// TestRejectionSet derives the whole set of rejected code points from the
// Unicode tables and checks it against what it must and must not contain.
func TestRejectionSet(t *testing.T) {
	t.Parallel()
	must := map[rune]error{
		0xFF0E: ErrCompatASCII, 0xFF0F: ErrCompatASCII, 0xFF3C: ErrCompatASCII, 0x2024: ErrCompatASCII,
		0xFE52: ErrCompatASCII, 0xFE68: ErrCompatASCII, 0xFF1B: ErrCompatASCII, 0xFF05: ErrCompatASCII,
		0x2474: ErrCompatASCII, 0x00B2: ErrCompatASCII, 0x212A: ErrCompatASCII, 0x017F: ErrCompatASCII,
		0x0131: ErrCompatASCII, 0x0130: ErrCompatASCII, 0x2122: ErrCompatASCII, 0xFF21: ErrCompatASCII,
		0x2215: ErrSymbol, 0x2044: ErrSymbol, 0x29F8: ErrSymbol, 0x2216: ErrSymbol, 0x00B7: ErrSymbol,
		0x00A0: ErrInvisible, 0x200B: ErrInvisible, 0xFEFF: ErrInvisible, 0x202E: ErrInvisible,
		0x2028: ErrInvisible, 0x3000: ErrInvisible, 0x0085: ErrInvisible, 0x00AD: ErrInvisible, 0xE0001: ErrInvisible,
	}
	mustNot := []rune{0x00E9, 0x00FC, 0x00DF, 0x0436, 0x05D0, 0x0627, 0x65E5, 0xAC00, 0x1F389, 0x00C5, 0x0301, 0x20AC}
	counts := map[error]int{}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		err := checkRune(r)
		for _, e := range []error{ErrCompatASCII, ErrSymbol, ErrInvisible} {
			if errors.Is(err, e) {
				counts[e]++
			}
		}
		if want, ok := must[r]; ok && !errors.Is(err, want) {
			t.Errorf("U+%04X: %v, want %v", r, err, want)
		}
		if err == nil {
			// What passes has no ASCII in its NFKC form, no delimiter look-alike.
			if n := norm.NFKC.String(string(r)); strings.IndexFunc(n, func(c rune) bool { return c < 0x80 }) >= 0 {
				t.Errorf("U+%04X passes but its NFKC form %q holds ASCII", r, n)
			}
		}
	}
	for _, r := range mustNot {
		if err := checkRune(r); err != nil {
			t.Errorf("U+%04X rejected: %v", r, err)
		}
	}
	t.Logf("rejected code points: %d fold to ASCII, %d punctuation or symbols, %d invisible", counts[ErrCompatASCII], counts[ErrSymbol], counts[ErrInvisible])
}

// FuzzNormalize checks that normalization never panics, that its output is
// canonical (normalizing it again changes nothing, once re-encoded as a
// client would send it), and that no dot-segment or empty segment survives.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x", "/%2e%2e/", "/a%2fb", "/a/./b/", "/%41", "/a;b", "/..", "/%25"} {
		f.Add(s)
	}
	for _, s := range []string{"/%c0%ae", "/%EF%BC%8E%EF%BC%8E", "/%E2%88%95", "/caf%C3%A9", "/%ed%a0%80", "/A%C3%89", "/%E2%84%AA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		lower, lerr := Normalize(raw, config.Paths{Lowercase: true})
		got, err := Normalize(raw, config.Paths{})
		if (err == nil) != (lerr == nil) {
			t.Fatalf("Normalize(%q): lowercase changes acceptance: %v vs %v", raw, err, lerr)
		}
		if err != nil {
			return
		}
		if lower != strings.ToLower(got) {
			t.Fatalf("Normalize(%q) lowercase = %q, want %q", raw, lower, strings.ToLower(got))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Normalize(%q) = %q is not UTF-8", raw, got)
		}
		for _, r := range got {
			if r >= 0x80 && checkRune(r) != nil {
				t.Fatalf("Normalize(%q) = %q keeps U+%04X", raw, got, r)
			}
		}
		// Sent again as the proxy sends it upstream, it normalizes to itself.
		u := url.URL{Path: got}
		if again, err := Normalize(u.EscapedPath(), config.Paths{}); err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, forwarded as %q, normalizes to %q, %v", raw, got, u.EscapedPath(), again, err)
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
	for _, bc := range []struct {
		name, path string
		opts       config.Paths
	}{
		{"plain", "/api/v1/users/42", config.Paths{}},
		{"plain_lowercase", "/api/v1/users/42", config.Paths{Lowercase: true}},
		{"upper_lowercase", "/API/V1/Users/42", config.Paths{Lowercase: true}},
		{"dots", "/api/v1/../v1/users/42", config.Paths{}},
		{"non_ascii", "/api/v1/users/caf%C3%A9", config.Paths{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(bc.path, bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNormalizePlainAllocs keeps the fast path free of allocations.
func TestNormalizePlainAllocs(t *testing.T) {
	for _, opts := range []config.Paths{{}, {Lowercase: true}} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Normalize("/api/v1/users/42", opts) }); n != 0 {
			t.Fatalf("%+v: %v allocations on the fast path", opts, n)
		}
	}
}
