package decisionlog

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// appendStringByByte is appendString as it was before it looked at eight
// bytes at a time: the reference the faster one must match byte for byte.
func appendStringByByte(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case plain[c]:
				b = append(b, c)
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// TestAppendStringMatchesByteWise puts every byte value at every place of
// an eight-byte word (and across two), where the word-at-a-time test must
// notice it.
func TestAppendStringMatchesByteWise(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for pos := range 17 {
			s := []byte(strings.Repeat("abcdefgh", 3))
			s[pos] = byte(c)
			if got, want := appendString(nil, string(s)), appendStringByByte(nil, string(s)); !bytes.Equal(got, want) {
				t.Fatalf("byte %#x at %d: %q, want %q", c, pos, got, want)
			}
		}
	}
	for _, s := range []string{"", "1234567", "12345678", "123456789", "ü€😀 plain ascii run", "run\u2028of\u2029eight+", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", `"quoted" \back\slash`} {
		if got, want := appendString(nil, s), appendStringByByte(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

func TestPlain8(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for pos := range 8 {
			w := uint64(0x6161616161616161)&^(0xff<<(8*pos)) | uint64(c)<<(8*pos)
			if got := plain8(w); got != plain[c] {
				t.Fatalf("plain8 with %#x at byte %d = %v, want %v", c, pos, got, plain[c])
			}
		}
	}
}

// plainString agrees with the plain table for each byte value at each
// place of strings of every length up to three words, so each of its
// cases (short, half words, overlapping last word) is covered.
func TestPlainString(t *testing.T) {
	t.Parallel()
	for n := range 25 {
		if !plainString(strings.Repeat("a", n)) {
			t.Fatalf("%d plain bytes: not plain", n)
		}
		for pos := range n {
			for c := range 256 {
				s := []byte(strings.Repeat("a", n))
				s[pos] = byte(c)
				if got := plainString(string(s)); got != plain[c] {
					t.Fatalf("plainString of %d bytes with %#x at %d = %v, want %v", n, c, pos, got, plain[c])
				}
			}
		}
	}
}

// FuzzPlainString: plainString is the plain table applied to every byte.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{"", "a", "GET", "ab\"c", "user-agent", "line1\nline2", "\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := true
		for i := range len(s) {
			want = want && plain[s[i]]
		}
		if got := plainString(s); got != want {
			t.Fatalf("plainString(%q) = %v, want %v", s, got, want)
		}
	})
}

func FuzzAppendStringByteWise(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\n\u2028", "\xff\xfe", "ü😀", "abcdefgh\x7f\x80ijklmnop\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString(nil, s), appendStringByByte(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
	})
}

func TestSortedPairs(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 7, keyBuf, keyBuf + 1, 100} {
		m := make(map[string]int, n)
		for i := range n {
			m[fmt.Sprintf("k%03d", (i*37)%n)] = (i * 37) % n
		}
		var buf [keyBuf]pair[int]
		ps := sortedPairs(buf[:0], m)
		if len(ps) != n {
			t.Fatalf("n=%d: %d pairs", n, len(ps))
		}
		for i, p := range ps {
			if want := fmt.Sprintf("k%03d", i); p.k != want || p.v != i {
				t.Fatalf("n=%d: pair %d = %v, want key %s value %d", n, i, p, want, i)
			}
		}
	}
}

func TestSortedHeadersOrdersAndWritesANameOnce(t *testing.T) {
	t.Parallel()
	hs := []Header{{"X-B", []string{"1"}}, {"A", []string{"2"}}, {"X-B", []string{"1"}}, {"a", []string{"2"}}}
	var buf [keyBuf]Header
	got := sortedHeaders(buf[:0], hs)
	want := []Header{{"A", []string{"2"}}, {"X-B", []string{"1"}}, {"a", []string{"2"}}}
	if !slices.EqualFunc(got, want, func(a, b Header) bool { return a.Name == b.Name && slices.Equal(a.Values, b.Values) }) {
		t.Errorf("sortedHeaders = %v, want %v", got, want)
	}
	if hs[0].Name != "X-B" {
		t.Errorf("sortedHeaders reordered its argument: %v", hs)
	}
}
