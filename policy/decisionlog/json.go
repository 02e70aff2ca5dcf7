package decisionlog

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// appendJSON appends v as JSON. An ast.Value is written directly, without
// building the Go value ast.JSON would (see BenchmarkLog); a Go value made
// by toJSON is written directly too; anything else goes through
// encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		return appendNumber(b, string(x)), nil
	case float64:
		return appendFloat(b, x), nil
	case map[string]any:
		b = append(b, '{')
		var kb [keyBuf]pair[any]
		ps, ko := orderedPairs(objectOrders, kb[:0], x)
		for i, p := range ps {
			b = ko.appendKey(b, i, p.k)
			var err error
			if b, err = appendJSON(b, p.v); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case []string:
		return appendStrings(b, x), nil
	case *policy.Input:
		return appendInput(b, x)
	case *ast.Term:
		return appendAST(b, x.Value)
	case ast.Value:
		return appendAST(b, x)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendAST appends a ground ast.Value as JSON, like ast.JSON does: sets
// become arrays, non-string object keys become their JSON text.
func appendAST(b []byte, v ast.Value) ([]byte, error) {
	w, _ := astWriters.Get().(*astWriter)
	if w == nil {
		w = &astWriter{}
		w.pairFn, w.elemFn = w.pair, w.elem // bound once: no allocation per object
	}
	w.b, w.err, w.first = b, nil, false
	w.value(v)
	b, err := w.b, w.err
	w.b, w.err = nil, nil // the pool keeps neither the line nor an error
	astWriters.Put(w)
	return b, err
}

// astWriters are kept with their callbacks bound, so writing a result
// allocates neither the writer nor the two method values.
var astWriters sync.Pool

// astWriter walks an ast.Value with Foreach callbacks, keeping its state
// in one place instead of in closures that would escape per object.
type astWriter struct {
	b      []byte
	err    error
	first  bool // no comma before the next member of the current container
	pairFn func(k, v *ast.Term)
	elemFn func(v *ast.Term)
}

func (w *astWriter) value(v ast.Value) {
	switch x := v.(type) {
	case ast.Null:
		w.b = append(w.b, "null"...)
	case ast.Boolean:
		w.b = strconv.AppendBool(w.b, bool(x))
	case ast.Number:
		w.b = appendNumber(w.b, string(x))
	case ast.String:
		w.b = appendString(w.b, string(x))
	case *ast.Array:
		w.b = append(w.b, '[')
		for i := range x.Len() {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.value(x.Elem(i).Value)
		}
		w.b = append(w.b, ']')
	case ast.Object:
		saved := w.first
		w.first = true
		w.b = append(w.b, '{')
		x.Foreach(w.pairFn)
		w.b = append(w.b, '}')
		w.first = saved
	case ast.Set:
		saved := w.first
		w.first = true
		w.b = append(w.b, '[')
		x.Foreach(w.elemFn)
		w.b = append(w.b, ']')
		w.first = saved
	default:
		g, err := ast.JSON(v) // refs, vars and the like: an error, as in OPA
		if err == nil {
			w.b, err = appendJSON(w.b, g)
		}
		if w.err == nil {
			w.err = err
		}
	}
}

func (w *astWriter) comma() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
}

func (w *astWriter) pair(k, v *ast.Term) {
	w.comma()
	if s, ok := k.Value.(ast.String); ok {
		w.b = appendString(w.b, string(s))
	} else {
		kb, err := appendAST(nil, k.Value)
		if err != nil && w.err == nil {
			w.err = err
		}
		w.b = appendString(w.b, string(kb))
	}
	w.b = append(w.b, ':')
	w.value(v.Value)
}

func (w *astWriter) elem(v *ast.Term) {
	w.comma()
	w.value(v.Value)
}

// appendNumber appends a JSON number given as text, integral values in
// exponent form as integers (appendIntegral), or null if the text is not a
// JSON number (it would corrupt the line).
func appendNumber(b []byte, s string) []byte {
	if !validNumber(s) {
		return append(b, "null"...)
	}
	return appendIntegral(b, s)
}

// validNumber reports whether s matches the JSON number grammar of RFC 8259.
func validNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// pair is one member of a map, as sortedPairs returns them.
type pair[V any] struct {
	k string
	v V
}

// sortedPairs returns the members of m in key order, so output is
// deterministic, appended to buf: a caller's array holds them without an
// allocation per object written (an event writes half a dozen), and each
// value comes with its key, so no lookup follows. A map that fits buf's
// array (keyBuf) is sorted by insertion as it is read; a larger one, which
// insertion would make quadratic, is sorted afterwards.
func sortedPairs[V any](buf []pair[V], m map[string]V) []pair[V] {
	ps := buf[:0]
	if len(m) > keyBuf {
		for k, v := range m {
			ps = append(ps, pair[V]{k, v})
		}
		slices.SortFunc(ps, func(a, b pair[V]) int { return strings.Compare(a.k, b.k) })
		return ps
	}
	for k, v := range m {
		i := len(ps)
		ps = append(ps, pair[V]{})
		for ; i > 0 && ps[i-1].k > k; i-- {
			ps[i] = ps[i-1]
		}
		ps[i] = pair[V]{k, v}
	}
	return ps
}

// keyBuf is the size of the callers' arrays for sortedPairs: more members
// than this cost an allocation.
const keyBuf = 16

const hexDigits = "0123456789abcdef"

// plain marks the bytes appendString copies as they are: printable ASCII
// but the quote and the backslash. One lookup a byte is what keeps the
// encoding of the event's many short strings cheap.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// load8 returns the eight bytes of s at i, the first in the low byte.
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain8 reports whether the eight bytes of w are all plain: none below
// 0x20, none a quote or a backslash, none above 0x7f. Strings are mostly
// plain runs (a user agent, a subject, a path), so appendString looks at
// eight bytes at a time and copies a run with one append. The tests are
// the classic bit tricks (as gateway/listener's plainValue8):
// (x - 0x01…01·n) &^ x & 0x80…80 is non-zero exactly when some byte of x
// is below n (n <= 0x80), and with x = w ^ c·0x01…01 and n = 1 it finds a
// byte equal to c.
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (w - ones*0x20) &^ w
	q := w ^ (ones * '"')
	bs := w ^ (ones * '\\')
	return (below|(q-ones)&^q|(bs-ones)&^bs|w)&highs == 0
}

// load4 returns the four bytes of s at i, the first in the low byte.
func load4(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// plainString reports whether every byte of s is plain, looking at eight
// at a time: a string of eight or more bytes ends with a word overlapping
// the one before, one of four to seven is two overlapping halves of a
// word, and a shorter one its first, middle and last byte beside plain
// padding ('a'). Most strings of an event are short and plain (a method,
// an id, a header name), and for those this is the whole scan.
func plainString(s string) bool {
	n := len(s)
	switch {
	case n >= 8:
		for i := 0; i+8 < n; i += 8 {
			if !plain8(load8(s, i)) {
				return false
			}
		}
		return plain8(load8(s, n-8))
	case n >= 4:
		return plain8(uint64(load4(s, 0)) | uint64(load4(s, n-4))<<32)
	case n > 0:
		return plain8(uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16 | 0x6161616161<<24)
	}
	return true
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters, U+2028 and U+2029 are escaped, so an event is always
// one line.
func appendString(b []byte, s string) []byte {
	if !plainString(s) {
		return appendEscaped(b, s)
	}
	// Quoted as it is. The escaping is a function of its own, so this
	// common path keeps a small frame.
	return append(append(append(b, '"'), s...), '"')
}

// appendEscaped is appendString of a string that is not plain.
func appendEscaped(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(load8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendWord is appendString for the few values a request's method and
// scheme almost always are: their JSON is a constant (see
// TestAppendWordIsAppendString), copied instead of scanned and quoted.
func appendWord(b []byte, s string) []byte {
	switch s {
	case "GET":
		return append(b, `"GET"`...)
	case "POST":
		return append(b, `"POST"`...)
	case "PUT":
		return append(b, `"PUT"`...)
	case "PATCH":
		return append(b, `"PATCH"`...)
	case "DELETE":
		return append(b, `"DELETE"`...)
	case "HEAD":
		return append(b, `"HEAD"`...)
	case "OPTIONS":
		return append(b, `"OPTIONS"`...)
	case "http":
		return append(b, `"http"`...)
	case "https":
		return append(b, `"https"`...)
	}
	return appendString(b, s)
}
