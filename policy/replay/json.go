package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The event reader parses JSON straight into OPA values: going through
// encoding/json and ast.InterfaceToValue builds every input twice and was
// most of a replay's time (see BenchmarkReplay1M).

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// Keep is the parts of a value to build; nil builds nothing (the value is
// only checked), all builds everything below.
type Keep struct {
	all  bool
	keys map[string]*Keep
}

// keepAll builds the whole value.
var keepAll = &Keep{all: true}

// NewKeep keeps what ParseEvent reads of an event and, of its input, the
// values at paths, each with everything below it.
func NewKeep(paths ...[]string) *Keep {
	in := &Keep{}
	for _, path := range paths {
		n := in
		for _, key := range path {
			if n.all {
				break
			}
			next := n.keys[key]
			if next == nil {
				if n.keys == nil {
					n.keys = map[string]*Keep{}
				}
				next = &Keep{}
				n.keys[key] = next
			}
			n = next
		}
		n.all, n.keys = true, nil
	}
	return eventKeep(in)
}

// eventKeep keeps the members of an event line (decisionlog's encode) that
// ParseEvent reads, and what input keeps of its input; the other members
// are checked and skipped.
func eventKeep(input *Keep) *Keep {
	k := &Keep{keys: map[string]*Keep{"input": input}}
	for _, name := range []string{"decision_id", "path", "result", "erased", "masked", "portcullis"} {
		k.keys[name] = keepAll
	}
	return k
}

// wholeEvent keeps the whole input.
var wholeEvent = eventKeep(keepAll)

// below is what to keep of member key of an object kept by k.
func (k *Keep) below(key string) *Keep {
	if k == nil || k.all {
		return k
	}
	return k.keys[key]
}

// parser reads one JSON text.
type parser struct {
	b     []byte
	i     int
	depth int
}

var errSyntax = errors.New("invalid JSON")

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, p.i, what)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

// end checks that only white space follows the value.
func (p *parser) end() error {
	p.ws()
	if p.i != len(p.b) {
		return p.fail("data after the value")
	}
	return nil
}

// value parses the next value, building what k keeps: with a nil k it
// returns nil after checking the value; only objects are kept in part.
func (p *parser) value(k *Keep) (ast.Value, error) {
	skip := k == nil
	p.ws()
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(k)
	case c == '[':
		return p.array(skip)
	case c == '"':
		s, err := p.str()
		if err != nil || skip {
			return nil, err
		}
		return ast.String(s), nil
	case c == 't':
		return p.literal("true", ast.Boolean(true), skip)
	case c == 'f':
		return p.literal("false", ast.Boolean(false), skip)
	case c == 'n':
		return p.literal("null", ast.Null{}, skip)
	case c == '-' || c >= '0' && c <= '9':
		n, err := p.number()
		if err != nil || skip {
			return nil, err
		}
		return ast.Number(n), nil
	}
	return nil, p.fail("unexpected character")
}

func (p *parser) literal(word string, v ast.Value, skip bool) (ast.Value, error) {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return nil, p.fail("bad literal")
	}
	p.i += len(word)
	if skip {
		return nil, nil
	}
	return v, nil
}

func (p *parser) enter() error {
	if p.depth++; p.depth > maxDepth {
		return p.fail("nested too deeply")
	}
	p.i++
	return nil
}

func (p *parser) object(keep *Keep) (ast.Value, error) {
	skip := keep == nil
	if err := p.enter(); err != nil {
		return nil, err
	}
	var kv [][2]*ast.Term
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		if skip {
			return nil, nil
		}
		return ast.NewObject(), nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("want an object key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("want ':'")
		}
		p.i++
		sub := keep.below(k)
		v, err := p.value(sub)
		if err != nil {
			return nil, err
		}
		if sub != nil {
			kv = append(kv, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(v)})
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
			p.depth--
			if skip {
				return nil, nil
			}
			return objectOf(kv), nil
		}
		return nil, p.fail("want ',' or '}'")
	}
}

// objectOf is the object of kv; a repeated key keeps its last value, as
// encoding/json does.
func objectOf(kv [][2]*ast.Term) ast.Object {
	if !hasDuplicate(kv) {
		return ast.NewObject(kv...)
	}
	obj := ast.NewObject()
	for _, p := range kv {
		obj.Insert(p[0], p[1])
	}
	return obj
}

// hasDuplicate reports whether a key repeats (ast.NewObject would keep both).
func hasDuplicate(kv [][2]*ast.Term) bool {
	if len(kv) <= 16 {
		for i := range kv {
			for j := range i {
				if kv[i][0].Value.(ast.String) == kv[j][0].Value.(ast.String) {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[ast.String]bool, len(kv))
	for _, p := range kv {
		k := p[0].Value.(ast.String)
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

func (p *parser) array(skip bool) (ast.Value, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	elem := keepAll
	if skip {
		elem = nil
	}
	var elems []*ast.Term
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		if skip {
			return nil, nil
		}
		return ast.NewArray(), nil
	}
	for {
		v, err := p.value(elem)
		if err != nil {
			return nil, err
		}
		if !skip {
			elems = append(elems, ast.NewTerm(v))
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			continue
		case ']':
			p.i++
			p.depth--
			if skip {
				return nil, nil
			}
			return ast.NewArray(elems...), nil
		}
		return nil, p.fail("want ',' or ']'")
	}
}

// str parses a string. One without escapes is copied as is; one with
// escapes, or with bytes that are not UTF-8, is decoded by encoding/json
// (which turns invalid UTF-8 into U+FFFD).
func (p *parser) str() (string, error) {
	start := p.i
	p.i++
	plain := true
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			raw := p.b[start:p.i]
			if plain && utf8.Valid(raw) {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", p.fail("bad string")
			}
			return s, nil
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return "", p.fail("control character in string")
		default:
			p.i++
		}
	}
	return "", p.fail("unterminated string")
}

// number checks the JSON number grammar and returns its text.
func (p *parser) number() (string, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return "", p.fail("bad number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.fail("bad number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.fail("bad number")
		}
	}
	return string(p.b[start:p.i]), nil
}
