package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\n\u2028", "\xff\xfe", "ü😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q is not a JSON string: %v", b, err)
		}
		if want := validUTF8(s); back != want {
			t.Fatalf("round trip %q -> %q, want %q", s, back, want)
		}
		if strings.ContainsAny(string(b), "\n\r") {
			t.Fatalf("%q holds a raw line break", b)
		}
	})
}

func TestValidNumber(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0": true, "-1": true, "1.5e-3": true, "10": true, "2E+7": true,
		"": false, "01": false, "1.": false, ".5": false, "1e": false, "NaN": false, "0x10": false, "1 ": false, "-": false,
	} {
		if got := validNumber(s); got != want {
			t.Errorf("validNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

// validUTF8 replaces each invalid byte of s with U+FFFD, as ranging over a
// string (and encoding/json) does.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
