package validate

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// formatCases are the edges of the email and uuid patterns.
var formatCases = []string{
	"", "@", "a@", "@b", "a@b", "a@b@c", "a@@b", "a b@c", "a@b c", "a@b\tc", "a@b\vc", "a@b\nc", "a@b\fc", "a@b\rc", "a\n@b", "a@b\n",
	"a@<b", "a@b>", `a@"b"`, "a@b,c", "a@b\x00", "\xff@\xfe", "é@ü", "a@b\u00a0", "ada@example.com",
	"5f0c8a52-3b7e-4e0c-9d6f-2a1b3c4d5e6f", "5F0C8A52-3B7E-4E0C-9D6F-2A1B3C4D5E6F", "5f0c8a52-3b7e-0e0c-9d6f-2a1b3c4d5e6f",
	"5f0c8a52-3b7e-9e0c-9d6f-2a1b3c4d5e6f", "5f0c8a52-3b7e-8e0c-bd6f-2a1b3c4d5e6f", "5f0c8a52-3b7e-1e0c-Ad6f-2a1b3c4d5e6f", "5f0c8a52-3b7e-4e0c-cd6f-2a1b3c4d5e6f", "5f0c8a52-3b7e-4e0c-7d6f-2a1b3c4d5e6f",
	"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "FFFFFFFF-ffff-FFFF-ffff-FfFfFfFfFfFf",
	"00000000-0000-0000-0000-00000000000f", "5f0c8a52-3b7e-4e0c-9d6f-2a1b3c4d5e6", "5f0c8a52-3b7e-4e0c-9d6f-2a1b3c4d5e6f0",
	"5f0c8a52_3b7e-4e0c-9d6f-2a1b3c4d5e6f", "5f0c8a5g-3b7e-4e0c-9d6f-2a1b3c4d5e6f", "{5f0c8a52-3b7e-4e0c-9d6f-2a1b3c4d5e6f}",
	"5f0c8a52-3b7e-4e0c-9d6f-2a1b3c4d5e6f\n",
}

// patterns pairs each format with kin-openapi's regexp validator.
var patterns = []struct {
	name string
	got  func(string) error
	re   openapi3.StringFormatValidator
}{
	{"email", validEmail, openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail)},
	{"uuid", validUUID, openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)},
}

func checkFormats(t *testing.T, s string) {
	t.Helper()
	for _, f := range patterns {
		want := f.re.Validate(s)
		got := f.got(s)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("%s(%q) = %v, the pattern says %v", f.name, s, got, want)
		}
	}
}

func TestFormatsMatchTheirPatterns(t *testing.T) {
	t.Parallel()
	for _, s := range formatCases {
		checkFormats(t, s)
	}
}

func FuzzFormatsMatchTheirPatterns(f *testing.F) {
	for _, s := range formatCases {
		f.Add(s)
	}
	f.Fuzz(checkFormats)
}
