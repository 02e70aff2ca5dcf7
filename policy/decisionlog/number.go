package decisionlog

import (
	"math"
	"strconv"
	"strings"
)

// maxIntegerDigits is the longest integer a number in exponent form is
// rewritten to: JavaScript (and so encoding/json) switches to exponent form
// at 1e21, and a longer run of zeros helps no reader.
const maxIntegerDigits = 21

// appendFloat appends f as encoding/json writes a float64 (the ECMAScript
// number format): integral values up to 1e21 as integers, 1796114918 and
// not strconv's 1.796114918e+09. NaN and infinities, which JSON cannot
// hold, are null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // 1e-07 → 1e-7, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendIntegral appends the JSON number s, already validated, in plain
// integer form when it is in exponent form and its value is an integer of
// at most maxIntegerDigits digits: "1.796114918e+09" (how Go's strconv
// and OPA's arithmetic may print a Unix time) becomes 1796114918. It works
// on the digits, so no precision is lost. Any other number is appended as
// it is: a fraction, a huge or tiny value, or plain digits ("2.0" stays as
// the client or the policy wrote it).
func appendIntegral(b []byte, s string) []byte {
	e := strings.IndexAny(s, "eE")
	if e < 0 {
		return append(b, s...)
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(s[e+1:], "+"))
	if err != nil || exp > 1000 || exp < -1000 {
		return append(b, s...)
	}
	mant, neg := s[:e], false
	if mant[0] == '-' {
		mant, neg = mant[1:], true
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0") // the value is digits × 10^shift
	shift := exp - len(frac)
	if digits == "" {
		return append(b, '0')
	}
	for shift < 0 && digits[len(digits)-1] == '0' {
		digits, shift = digits[:len(digits)-1], shift+1
	}
	if shift < 0 || len(digits)+shift > maxIntegerDigits {
		return append(b, s...)
	}
	if neg {
		b = append(b, '-')
	}
	b = append(b, digits...)
	for range shift {
		b = append(b, '0')
	}
	return b
}
