package decisionlog

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
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
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case map[string]any:
		b = append(b, '{')
		first := true
		for _, k := range sortedKeys(x) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(appendString(b, k), ':')
			var err error
			if b, err = appendJSON(b, x[k]); err != nil {
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
	var err error
	switch x := v.(type) {
	case ast.Null:
		return append(b, "null"...), nil
	case ast.Boolean:
		return strconv.AppendBool(b, bool(x)), nil
	case ast.Number:
		return appendNumber(b, string(x)), nil
	case ast.String:
		return appendString(b, string(x)), nil
	case *ast.Array:
		b = append(b, '[')
		for i := range x.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendAST(b, x.Elem(i).Value); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case ast.Object:
		b = append(b, '{')
		first := true
		x.Foreach(func(k, e *ast.Term) {
			if err != nil {
				return
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			if s, ok := k.Value.(ast.String); ok {
				b = appendString(b, string(s))
			} else {
				var kb []byte
				if kb, err = appendAST(nil, k.Value); err != nil {
					return
				}
				b = appendString(b, string(kb))
			}
			b = append(b, ':')
			b, err = appendAST(b, e.Value)
		})
		return append(b, '}'), err
	case ast.Set:
		b = append(b, '[')
		first := true
		x.Foreach(func(e *ast.Term) {
			if err != nil {
				return
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b, err = appendAST(b, e.Value)
		})
		return append(b, ']'), err
	}
	g, err := ast.JSON(v) // refs, vars and the like: an error, as in OPA
	if err != nil {
		return b, err
	}
	return appendJSON(b, g)
}

// appendNumber appends a JSON number given as text, or null if the text is
// not a JSON number (it would corrupt the line).
func appendNumber(b []byte, s string) []byte {
	if !validNumber(s) {
		return append(b, "null"...)
	}
	return append(b, s...)
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

// sortedKeys returns the keys of m in order, so output is deterministic.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters, U+2028 and U+2029 are escaped, so an event is always
// one line.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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
