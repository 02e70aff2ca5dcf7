package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"go.yaml.in/yaml/v3"
)

// decoder fills a Config from a YAML tree, walking the tree beside the Go
// types so that one run reports every problem (yaml.v3's own Decode stops
// at the first value its custom unmarshalers refuse, and its type errors
// carry no field path). Unknown fields are errors, with the nearest known
// field of that level suggested.
type decoder struct {
	cfg  *Config
	errs Errors
	// bad lists the fields that did not decode, and the fields an unknown
	// field was probably meant to be: validation stays silent about them.
	bad []string
	// aliases counts the aliases followed: a few nested anchors can expand
	// into billions of nodes ("billion laughs"), so the walk stops at maxAliases.
	aliases int
}

const maxAliases = 1000

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) add(n *yaml.Node, field, format string, args ...any) {
	d.bad = append(d.bad, field)
	d.errs = append(d.errs, &FieldError{Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// value decodes n into v, which is addressable; path names v for errors.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n = d.deref(n, path); n == nil {
		return
	}
	if v.Addr().Type().Implements(unmarshalerType) {
		d.leaf(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := d.fresh(v.Type().Elem())
		d.value(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.add(n, path, "want a list, got %s", describeNode(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			s.Index(i).Set(d.fresh(v.Type().Elem()).Elem())
			d.value(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.add(n, path, "want a mapping, got %s", describeNode(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, e := n.Content[i], n.Content[i+1]
			ev := reflect.New(v.Type().Elem()).Elem()
			d.value(e, ev, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	default:
		d.leaf(n, v, path)
	}
}

// deref follows an alias; it returns nil past maxAliases.
func (d *decoder) deref(n *yaml.Node, path string) *yaml.Node {
	if n.Kind != yaml.AliasNode {
		return n
	}
	if d.aliases++; d.aliases > maxAliases {
		if d.aliases == maxAliases+1 {
			d.add(n, path, "more than %d aliases", maxAliases)
		}
		return nil
	}
	return n.Alias
}

// fresh returns a new *t with t's defaults set, if it has any.
func (d *decoder) fresh(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if df, ok := p.Interface().(defaulter); ok {
		df.defaults(d.cfg)
	}
	return p
}

var configType = reflect.TypeFor[Config]()

// mapping decodes a YAML mapping into the struct v, over the values v
// already has (its defaults). The routes are decoded after the rest of the
// file, since their defaults are the global limits and input shape.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n = d.deref(n, path); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "want a mapping, got %s", describeNode(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	var last []int
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v.Type() == configType && n.Content[i].Value == "routes" {
			last = append(last, i)
			continue
		}
		d.pair(n.Content[i], n.Content[i+1], v, path, fields, seen)
	}
	for _, i := range last {
		d.pair(n.Content[i], n.Content[i+1], v, path, fields, seen)
	}
}

// pair decodes one key and value of a mapping into the struct v.
func (d *decoder) pair(k, e *yaml.Node, v reflect.Value, path string, fields map[string][]int, seen map[string]int) {
	if k.Value == "<<" && k.Tag == "!!merge" {
		d.mapping(e, v, path)
		return
	}
	f := join(path, k.Value)
	if line, dup := seen[k.Value]; dup {
		d.add(k, f, "is set twice (first on line %d)", line)
		return
	}
	seen[k.Value] = k.Line
	idx, ok := fields[k.Value]
	if !ok {
		if s := suggest(k.Value, fields); s != "" {
			d.add(k, f, "unknown field (did you mean %q?)", s)
			d.bad = append(d.bad, join(path, s))
		} else {
			d.add(k, f, "unknown field")
		}
		return
	}
	d.value(e, v.FieldByIndex(idx), f)
}

// leaf decodes a scalar (or a type with its own UnmarshalYAML) with yaml.v3
// and turns its error into a message that names what the field wants.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	err := n.Decode(v.Addr().Interface())
	if err == nil {
		return
	}
	if _, ok := err.(*yaml.TypeError); ok {
		d.add(n, path, "want %s, got %s", describeType(v.Type()), describeNode(n))
		return
	}
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		msg = m[2]
	}
	d.add(n, path, "%s", msg)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the yaml names of t's fields to their index.
func yamlFields(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = f.Index
	}
	return m
}

// suggest returns the known field nearest to key, when it is near enough to
// be a likely typo, or "".
func suggest(key string, fields map[string][]int) string {
	best, bestD := "", len(key)/3+2
	for name := range fields {
		dist := levenshtein.ComputeDistance(strings.ToLower(key), name)
		if dist < bestD || (dist == bestD && best != "" && name < best) {
			best, bestD = name, dist
		}
	}
	return best
}

var durationType = reflect.TypeFor[time.Duration]()

func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration (e.g. 500ms, 30s, 5m)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}
