package route

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Errors for the bytes a percent-decoded path may not hold. Each wraps
// ErrInvalidUTF8 or names the offending code point, so that the 400 says
// exactly what was wrong.
var (
	ErrInvalidUTF8 = errors.New("invalid UTF-8 after percent-decoding")
	errOverlong    = fmt.Errorf("%w: overlong encoding", ErrInvalidUTF8)
	errSurrogate   = fmt.Errorf("%w: UTF-16 surrogate", ErrInvalidUTF8)
	errTruncated   = fmt.Errorf("%w: truncated sequence", ErrInvalidUTF8)
	errOutOfRange  = fmt.Errorf("%w: code point above U+10FFFF", ErrInvalidUTF8)
	errStrayByte   = fmt.Errorf("%w: byte that cannot start a sequence", ErrInvalidUTF8)

	// ErrInvisible is whitespace or a format character (Unicode Zs, Zl,
	// Zp, Cc, Cf): backends trim, drop or render these differently.
	ErrInvisible = errors.New("whitespace or format character")
	// ErrCompatASCII is a code point that a backend applying compatibility
	// normalization (NFKC, Windows best-fit mapping) or case folding would
	// turn into ASCII: the fullwidth dot and solidus, the one dot leader,
	// the Kelvin sign, the dotless i.
	ErrCompatASCII = errors.New("character that compatibility normalization or case folding turns into ASCII")
	// ErrSymbol is non-ASCII punctuation or a mathematical or modifier
	// symbol (Unicode P*, Sm, Sk): look-alikes of the delimiters that no
	// normalization maps, such as U+2215 division slash and U+2044
	// fraction slash.
	ErrSymbol = errors.New("non-ASCII punctuation or symbol")
)

// checkRunes checks a percent-decoded path that holds bytes >= 0x80: it
// must be valid UTF-8, and every non-ASCII code point must pass checkRune.
func checkRunes(p string) error {
	for i := 0; i < len(p); {
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n <= 1 {
			return utf8Error(p[i:])
		}
		if err := checkRune(r); err != nil {
			return err
		}
		i += n
	}
	return nil
}

// checkRune applies the rejection rules to one non-ASCII code point. The
// set is derived from the Unicode tables of the unicode and norm packages,
// not from a list of spellings; TestRejectionSet shows what it contains.
func checkRune(r rune) error {
	switch {
	case unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Cc, unicode.Cf):
		return fmt.Errorf("%w U+%04X", ErrInvisible, r)
	case foldsToASCII(r):
		return fmt.Errorf("%w U+%04X", ErrCompatASCII, r)
	case unicode.In(r, unicode.P, unicode.Sm, unicode.Sk):
		return fmt.Errorf("%w U+%04X", ErrSymbol, r)
	}
	return nil
}

// foldsToASCII reports whether the NFKC form of r holds an ASCII byte
// (U+FF0E fullwidth full stop is ".", U+2474 is "(1)"), or whether a simple
// case mapping of r (upper, lower, fold orbit) is ASCII (U+212A Kelvin
// sign, U+0131 dotless i).
func foldsToASCII(r rune) bool {
	var in [utf8.UTFMax]byte
	var out [64]byte
	for _, c := range norm.NFKC.Append(out[:0], in[:utf8.EncodeRune(in[:], r)]...) {
		if c < utf8.RuneSelf {
			return true
		}
	}
	if unicode.ToUpper(r) < utf8.RuneSelf || unicode.ToLower(r) < utf8.RuneSelf {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return true
		}
	}
	return false
}

// utf8Error says why the sequence at the start of s is not UTF-8
// (RFC 3629 §4: the well-formed byte sequences).
func utf8Error(s string) error {
	b0 := s[0]
	need := 0
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the second byte
	switch {
	case b0 < 0xC0:
		return errStrayByte
	case b0 < 0xC2:
		return errOverlong
	case b0 < 0xE0:
		need = 1
	case b0 < 0xF0:
		need = 2
		switch b0 {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		}
	case b0 < 0xF5:
		need = 3
		switch b0 {
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
	default:
		return errOutOfRange
	}
	if len(s) > 1 && s[1] >= 0x80 && s[1] <= 0xBF && (s[1] < lo || s[1] > hi) {
		switch b0 {
		case 0xE0, 0xF0:
			return errOverlong
		case 0xED:
			return errSurrogate
		default:
			return errOutOfRange
		}
	}
	for k := 1; k <= need; k++ {
		if k >= len(s) || s[k] < 0x80 || s[k] > 0xBF {
			return errTruncated
		}
	}
	return ErrInvalidUTF8
}
