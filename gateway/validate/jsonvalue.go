package validate

import "encoding/json"

// maxFastDepth is the nesting past which decodeValue leaves a document to
// encoding/json (body.Read's own limit is lower by default).
const maxFastDepth = 64

// decodeValue decodes raw into what kin-openapi's JSON body decoder
// (encoding/json with UseNumber) makes of it: map[string]any, []any,
// string, json.Number, bool and nil, without its reader, buffer copy and
// reflection. It takes only the plain documents a body usually is and
// reports false for anything else, which then goes to kin-openapi's
// decoder: a syntax error, a string with an escape, a control or a
// non-ASCII byte (encoding/json's replacements of invalid UTF-8), a
// repeated member (whose handling depends on encoding/json's version),
// deeper nesting than maxFastDepth, anything but whitespace after the
// value. FuzzDecodeValue holds it to encoding/json's answers.
func decodeValue(raw []byte) (any, bool) {
	d := valueDecoder{s: string(raw)}
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	d.space()
	return v, d.i == len(d.s)
}

// valueDecoder reads s from i; keys and strings are slices of s (one
// copy of the body for all of them).
type valueDecoder struct {
	s string
	i int
}

func (d *valueDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *valueDecoder) value(depth int) (any, bool) {
	d.space()
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	for _, lit := range literals {
		if len(d.s)-d.i >= len(lit.text) && d.s[d.i:d.i+len(lit.text)] == lit.text {
			d.i += len(lit.text)
			return lit.v, true
		}
	}
	return nil, false
}

var literals = [...]struct {
	text string
	v    any
}{{"true", true}, {"false", false}, {"null", nil}}

func (d *valueDecoder) object(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	d.i++ // '{'
	m := map[string]any{}
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		// A repeated member leaves the map's size as it was: one lookup
		// for the check and the store.
		n := len(m)
		if m[k] = v; len(m) == n {
			return nil, false
		}
		if more, ok := d.after('}'); !ok || !more {
			return m, ok
		}
	}
}

func (d *valueDecoder) array(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	d.i++ // '['
	a := make([]any, 0)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok := d.after(']'); !ok || !more {
			return a, ok
		}
	}
}

// after reads what follows a member or an element: more after a comma,
// not more after end, which closes the container; ok is false for
// anything else.
func (d *valueDecoder) after(end byte) (more, ok bool) {
	d.space()
	if d.i >= len(d.s) {
		return false, false
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		return true, true
	case end:
		d.i++
		return false, true
	}
	return false, false
}

// str reads a string without escapes of printable ASCII.
func (d *valueDecoder) str() (string, bool) {
	start := d.i + 1
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return d.s[start:j], true
		case c == '\\' || c < ' ' || c >= 0x7f:
			return "", false
		}
	}
	return "", false
}

// number reads a number of JSON's grammar, kept as written.
func (d *valueDecoder) number() (any, bool) {
	s, i := d.s, d.i
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	n := json.Number(s[d.i:i])
	d.i = i
	return n, true
}
