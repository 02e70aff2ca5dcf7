package validate

import (
	"errors"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// stringFormats are checked on every validation, per call rather than
// through kin-openapi's global registry, which other code could change.
// date and date-time are kin-openapi's own (registered by default).
var stringFormats = map[string]openapi3.StringFormatValidator{
	"email": openapi3.NewCallbackValidator(validEmail),
	"uuid":  openapi3.NewCallbackValidator(validUUID),
	"ipv4":  openapi3.NewIPValidator(true),
	"ipv6":  openapi3.NewIPValidator(false),
	"uri":   openapi3.NewCallbackValidator(validURI),
}

var errNotAbsolute = errors.New("not an absolute URI")

func validURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if !u.IsAbs() {
		return errNotAbsolute
	}
	return nil
}

// validEmail accepts exactly what kin-openapi's email pattern
// (openapi3.FormatOfStringForEmail, ^[^@]+@[^@<>",\s]+$) matches, with
// the same error, in one pass over the bytes instead of a regexp match:
// one '@', not first, followed by at least one byte and none of '@' '<'
// '>' '"' ',' or Go's \s (tab, newline, form feed, carriage return,
// space). Every excluded character is ASCII, which never occurs inside a
// UTF-8 sequence, and the regexp reads an invalid byte as U+FFFD, which
// both classes admit: bytes decide as runes do.
// FuzzFormatsMatchTheirPatterns holds both to the same answers.
func validEmail(s string) error {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return errEmail
	}
	for i := at + 1; i < len(s); i++ {
		switch s[i] {
		case '@', '<', '>', '"', ',', '\t', '\n', '\f', '\r', ' ':
			return errEmail
		}
	}
	return nil
}

// validUUID accepts exactly what kin-openapi's RFC 9562 pattern
// (openapi3.FormatOfStringForUUIDOfRFC9562) matches, with the same error:
// 8-4-4-4-12 hex digits whose version digit is 1-8 and variant digit one
// of 8 9 a b (either case), or the Nil UUID, or the Max UUID (f in
// either case).
func validUUID(s string) error {
	if len(s) != 36 {
		return errUUID
	}
	zero, ones := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return errUUID
			}
			continue
		}
		if !isHex(c) {
			return errUUID
		}
		zero = zero && c == '0'
		ones = ones && (c == 'f' || c == 'F')
	}
	if zero || ones {
		return nil
	}
	if v := s[14]; v < '1' || v > '8' {
		return errUUID
	}
	switch s[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
		return nil
	}
	return errUUID
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// The errors kin-openapi's regexp validators return for these patterns.
var (
	errEmail = patternError(openapi3.FormatOfStringForEmail)
	errUUID  = patternError(openapi3.FormatOfStringForUUIDOfRFC9562)
)

func patternError(pattern string) error {
	return errors.New(`string doesn't match pattern "` + pattern + `"`)
}
