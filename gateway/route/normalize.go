// Package route normalizes request paths and matches them to configured routes.
package route

import (
	"errors"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
)

// Errors returned by Normalize. Each maps to a 400 with its own reason code.
var (
	ErrNotOrigin    = errors.New("request target is not an absolute path")
	ErrBadEscape    = errors.New("malformed percent-encoding")
	ErrEncodedSlash = errors.New("encoded slash or backslash")
	ErrEncodedDot   = errors.New("encoded dot")
	ErrEncodedPct   = errors.New("encoded percent sign (double encoding)")
	ErrBackslash    = errors.New("backslash")
	ErrControl      = errors.New("NUL or control character")
	ErrSemicolon    = errors.New("semicolon (path parameter)")
	ErrNonASCII     = errors.New("raw non-ASCII byte")
	ErrDotSegment   = errors.New("dot-segment")
	ErrDoubleSlash  = errors.New("empty path segment")
	ErrAboveRoot    = errors.New("dot-segments climb above the root")
)

// Normalize turns the raw, still percent-encoded path of a request target
// into the one canonical path the gateway routes on, shows to the policy and
// forwards upstream. It decodes percent-escapes, resolves "." and ".."
// segments and merges repeated slashes. Anything whose meaning could differ
// between the gateway and a backend is rejected instead of guessed:
// encoded slashes, backslashes and dots (%2F, %5C, %2E), encoded percent
// signs (double encoding), semicolons (path parameters some servers strip),
// NUL and control characters, raw non-ASCII bytes, and ".." above the root.
// Percent-decoded bytes must be UTF-8 and every non-ASCII code point must
// pass checkRune (no whitespace, format characters, look-alikes of the
// delimiters, or characters other normalizations turn into ASCII).
// opts can make it stricter, and with Lowercase fold A-Z (and non-ASCII
// letters, by their Unicode simple lower-case mapping) to lower case.
func Normalize(raw string, opts config.Paths) (string, error) {
	if raw == "" || raw[0] != '/' {
		return "", ErrNotOrigin
	}
	// Fast path: plain paths need no decoding and no dot handling.
	if clean(raw) {
		if opts.Lowercase && hasUpper(raw) {
			return strings.ToLower(raw), nil
		}
		return raw, nil
	}
	p, err := decode(raw)
	if err != nil {
		return "", err
	}
	if opts.Lowercase {
		p = strings.ToLower(p)
	}
	return resolve(p, opts)
}

// decode percent-decodes raw, rejecting what Normalize rejects byte by byte.
func decode(raw string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	high := false // a decoded byte >= 0x80: check the code points
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !ishex(raw[i+1]) || !ishex(raw[i+2]) {
				return "", ErrBadEscape
			}
			d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			switch {
			case d == '/' || d == '\\':
				return "", ErrEncodedSlash
			case d == '.':
				return "", ErrEncodedDot
			case d == '%':
				return "", ErrEncodedPct
			case d == ';':
				return "", ErrSemicolon
			case d < 0x20 || d == 0x7f:
				return "", ErrControl
			case d == ' ':
				return "", fmt.Errorf("%w U+0020", ErrInvisible)
			}
			high = high || d >= 0x80
			b.WriteByte(d)
			i += 2
		case c == '\\':
			return "", ErrBackslash
		case c == ';':
			return "", ErrSemicolon
		case c < 0x20 || c == 0x7f:
			return "", ErrControl
		case c == ' ':
			return "", fmt.Errorf("%w U+0020", ErrInvisible)
		case c >= 0x80:
			return "", ErrNonASCII
		default:
			b.WriteByte(c)
		}
	}
	p := b.String()
	if high {
		if err := checkRunes(p); err != nil {
			return "", err
		}
	}
	return p, nil
}

// hasUpper reports whether the ASCII string s holds an upper-case letter.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// clean reports whether p is already canonical: only unreserved and
// sub-delim characters, no dot-segments, no empty segments.
func clean(p string) bool {
	prev := byte(0)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if prev == '/' {
				return false
			}
		case c == '.':
			// A dot that starts a segment may be a dot-segment; take the slow path.
			if prev == '/' {
				return false
			}
		case c == '%' || c == '\\' || c == ';' || c < 0x21 || c >= 0x7f:
			return false
		}
		prev = c
	}
	return true
}

// resolve applies RFC 3986 §5.2.4 remove_dot_segments on a decoded path,
// merging empty segments, keeping a trailing slash.
func resolve(p string, opts config.Paths) (string, error) {
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "":
			if last {
				trailing = true
				continue
			}
			if opts.RejectDoubleSlash {
				return "", ErrDoubleSlash
			}
		case ".":
			if opts.RejectDotSegments {
				return "", ErrDotSegment
			}
			trailing = last
		case "..":
			if opts.RejectDotSegments {
				return "", ErrDotSegment
			}
			if len(out) == 0 {
				return "", ErrAboveRoot
			}
			out = out[:len(out)-1]
			trailing = last
		default:
			out = append(out, s)
		}
	}
	r := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		r += "/"
	}
	return r, nil
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
