package body

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/portcullis/portcullis/gateway/problem"
)

// Sentinels in the chain of the problems [CheckJSON] returns.
var (
	ErrJSONTooDeep      = errors.New("json nesting too deep")
	ErrJSONTooManyKeys  = errors.New("json has too many keys or items")
	ErrJSONDuplicateKey = errors.New("json object has a duplicate member")
	ErrJSONTrailingData = errors.New("json value is followed by more data")
)

// CheckJSON scans b once and returns a 400 problem when objects and arrays
// nest deeper than maxDepth (json_too_deep), when the object members and
// array items together number more than maxKeys (json_too_many_keys), when
// an object has two members whose names are equal once escapes are decoded
// or equal ignoring case as encoding/json binds them to struct fields
// (json_duplicate_key: parsers keep the first, the last, or either), or
// when anything but whitespace follows the value (json_trailing_data: a
// streaming parser reads a second document). errors.Is finds the matching
// sentinel in them. The limits are taken as given (limits.max_json_depth and
// max_json_keys; a depth of 0 admits only scalars).
//
// Other malformed JSON is not an error here: from the first syntax error
// on, the scan only bounds the work of the parsers after it, which reject
// the document. The scan is linear in len(b) and allocates only for
// objects of more than smallObject members and for names with escapes.
func CheckJSON(b []byte, maxDepth, maxKeys int) error {
	s := scanner{b: b, maxDepth: maxDepth, maxKeys: maxKeys}
	return s.run()
}

// States of the strict scan: what may come next.
const (
	wantValue      = iota // a value (the document, after ':' or ',' in an array)
	wantValueOrEnd        // after '['
	wantKeyOrEnd          // after '{'
	wantKey               // after ',' in an object
	wantColon             // after a member name
	wantCommaOrEnd        // after a value in a container
	wantNothing           // after the document: whitespace only
)

// smallObject is how many members an object may have before their folded
// names go into a map: below it, comparing each name with the earlier
// ones is cheaper than hashing.
const smallObject = 16

type scanner struct {
	b                 []byte
	maxDepth, maxKeys int
	count             int
}

// frame is an open container; for an object, its names are keys[first:]
// (of run's keys) and, past smallObject of them, also in folded.
type frame struct {
	object bool
	first  int
	folded map[string]struct{}
}

// name is a member name: b[start:end] when it has no escape, else decoded.
type name struct {
	start, end int
	decoded    []byte
}

func (s *scanner) name(n name) []byte {
	if n.decoded != nil {
		return n.decoded
	}
	return s.b[n.start:n.end]
}

func (s *scanner) run() error {
	// The open containers, and the member names of the open objects; in
	// locals, not fields, so that their first blocks stay on the stack.
	var stackBuf [16]frame
	var keysBuf [32]name
	stack, keys := stackBuf[:0], keysBuf[:0]
	after := func() int {
		if len(stack) == 0 {
			return wantNothing
		}
		return wantCommaOrEnd
	}
	state := wantValue
	for i := 0; i < len(s.b); i++ {
		c := s.b[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		switch state {
		case wantValue, wantValueOrEnd:
			switch {
			case c == ']' && state == wantValueOrEnd:
				keys, stack = keys[:stack[len(stack)-1].first], stack[:len(stack)-1]
				state = after()
				continue
			case c == '{' || c == '[':
				if err := s.item(stack); err != nil {
					return err
				}
				if len(stack) >= s.maxDepth {
					return tooDeep()
				}
				stack = append(stack, frame{object: c == '{', first: len(keys)})
				state = wantValueOrEnd
				if c == '{' {
					state = wantKeyOrEnd
				}
				continue
			case c == '"':
				if i = stringEnd(s.b, i+1); i < 0 {
					return nil // unterminated
				}
			case c == '-' || '0' <= c && c <= '9':
				i = numberEnd(s.b, i) - 1
			case 'a' <= c && c <= 'z':
				for i+1 < len(s.b) && 'a' <= s.b[i+1] && s.b[i+1] <= 'z' {
					i++
				}
			default:
				return s.lenient(i, len(stack))
			}
			if err := s.item(stack); err != nil {
				return err
			}
			state = after()
		case wantKeyOrEnd, wantKey:
			switch {
			case c == '}' && state == wantKeyOrEnd:
				keys, stack = keys[:stack[len(stack)-1].first], stack[:len(stack)-1]
				state = after()
			case c == '"':
				end := stringEnd(s.b, i+1)
				if end < 0 {
					return nil // unterminated
				}
				var err error
				if keys, err = s.member(&stack[len(stack)-1], keys, i+1, end); err != nil || keys == nil {
					return err // nil keys: a malformed name, left to the parsers
				}
				i, state = end, wantColon
			default:
				return s.lenient(i, len(stack))
			}
		case wantColon:
			if c != ':' {
				return s.lenient(i, len(stack))
			}
			state = wantValue
		case wantCommaOrEnd:
			top := stack[len(stack)-1]
			switch {
			case c == ',' && top.object:
				state = wantKey
			case c == ',':
				state = wantValue
			case c == '}' && top.object, c == ']' && !top.object:
				keys, stack = keys[:top.first], stack[:len(stack)-1]
				state = after()
			default:
				return s.lenient(i, len(stack))
			}
		case wantNothing:
			return problem.Wrap(http.StatusBadRequest, ReasonJSONTrailingData, "the JSON body has data after its value", ErrJSONTrailingData)
		}
	}
	return nil
}

// item counts a value in an array; a member value was counted with its
// name, and the document itself is not counted.
func (s *scanner) item(stack []frame) error {
	if len(stack) == 0 || stack[len(stack)-1].object {
		return nil
	}
	return s.counted()
}

func (s *scanner) counted() error {
	if s.count++; s.count > s.maxKeys {
		return tooManyKeys()
	}
	return nil
}

// member appends to keys the name b[start:end] of the innermost object f
// and rejects it if an earlier member has the same name, or one equal to
// it ignoring case (bytes.EqualFold, the rule encoding/json binds by). It
// returns nil keys for a name that cannot be decoded.
func (s *scanner) member(f *frame, keys []name, start, end int) ([]name, error) {
	if err := s.counted(); err != nil {
		return keys, err
	}
	n := name{start: start, end: end}
	if raw := s.b[start:end]; !plainASCII(raw) && (bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw)) {
		// Decoded as encoding/json does: escapes undone, invalid UTF-8 as U+FFFD.
		var str string
		if json.Unmarshal(s.b[start-1:end+1], &str) != nil {
			return nil, nil
		}
		n.decoded = []byte(str)
	}
	key := s.name(n)
	if f.folded != nil {
		k := string(foldKey(key))
		if _, dup := f.folded[k]; dup {
			return keys, duplicate()
		}
		f.folded[k] = struct{}{}
	} else {
		for _, m := range keys[f.first:] {
			if bytes.EqualFold(s.name(m), key) {
				return keys, duplicate()
			}
		}
		if len(keys)-f.first+1 > smallObject {
			f.folded = make(map[string]struct{}, 2*smallObject)
			for _, m := range keys[f.first:] {
				f.folded[string(foldKey(s.name(m)))] = struct{}{}
			}
			f.folded[string(foldKey(key))] = struct{}{}
		}
	}
	return append(keys, n), nil
}

// plainASCII reports whether b is printable ASCII without a backslash:
// a name that is its own decoding.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// foldKey maps every rune to the smallest of its case-folding orbit, so
// that foldKey(x) == foldKey(y) exactly when bytes.EqualFold(x, y).
func foldKey(k []byte) []byte {
	out := make([]byte, 0, len(k))
	for len(k) > 0 {
		r, n := utf8.DecodeRune(k)
		k = k[n:]
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		out = utf8.AppendRune(out, m)
	}
	return out
}

// lenient continues from the first syntax error at i as a structural
// count only: objects and arrays still bound depth and items, so that the
// parsers that reject the document later do bounded work.
func (s *scanner) lenient(i, depth int) error {
	first := false
	for ; i < len(s.b); i++ {
		c := s.b[i]
		switch c {
		case ' ', '\t', '\n', '\r', ':':
			continue
		case '}', ']':
			if depth > 0 {
				depth--
			}
			first = false
			continue
		case ',':
			s.count++ // each comma starts one more key or item
		}
		if first {
			s.count++
			first = false
		}
		if s.count > s.maxKeys {
			return tooManyKeys()
		}
		switch c {
		case '{', '[':
			if depth++; depth > s.maxDepth {
				return tooDeep()
			}
			first = true
		case '"':
			i = skipString(s.b, i+1)
		}
	}
	return nil
}

// numberEnd returns the index after the JSON number that starts at i,
// read as encoding/json reads it: -? digits (. digits)? ([eE] [+-]? digits)?
// (a malformed number ends early, and what follows is left to the parsers).
func numberEnd(b []byte, i int) int {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		i = digits(i)
	}
	if i+1 < len(b) && b[i] == '.' && '0' <= b[i+1] && b[i+1] <= '9' {
		i = digits(i + 1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j < len(b) && '0' <= b[j] && b[j] <= '9' {
			i = digits(j)
		}
	}
	return i
}

func tooDeep() error {
	return problem.Wrap(http.StatusBadRequest, ReasonJSONTooDeep, "the JSON body is nested too deeply", ErrJSONTooDeep)
}

func tooManyKeys() error {
	return problem.Wrap(http.StatusBadRequest, ReasonJSONTooManyKeys, "the JSON body has too many keys or items", ErrJSONTooManyKeys)
}

func duplicate() error {
	p := problem.Wrap(http.StatusBadRequest, ReasonJSONDuplicateKey,
		"a JSON object in the body has two members of the same name, or of names that differ only in case", ErrJSONDuplicateKey)
	// The name itself comes from the request: it is not echoed.
	p.InvalidParams = []problem.InvalidParam{{Name: "", In: "body", Reason: "has an object with a duplicate member"}}
	return p
}

// stringEnd returns the index of the quote closing the string that
// starts at i, or -1 when it is unterminated.
func stringEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// skipString returns the index of the quote closing the string that starts
// at i, or len(b)-1 when it is unterminated.
func skipString(b []byte, i int) int {
	if e := stringEnd(b, i); e >= 0 {
		return e
	}
	return len(b) - 1
}
