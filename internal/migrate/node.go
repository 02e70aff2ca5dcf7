package migrate

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Obj is a YAML mapping of the input read field by field. It remembers the
// fields that were read, so that Rest can report every other field instead of
// dropping it silently.
type Obj struct {
	File string
	Node *yaml.Node
	used map[string]bool
}

// NewObj wraps n, a mapping node of file (nil and non-mappings give an empty Obj).
func NewObj(file string, n *yaml.Node) *Obj {
	n = Deref(n)
	if n != nil && n.Kind != yaml.MappingNode {
		n = nil
	}
	return &Obj{File: file, Node: n, used: map[string]bool{}}
}

// Deref follows document nodes and aliases.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// Line is the line of the mapping (0 when it is absent).
func (o *Obj) Line() int {
	if o.Node == nil {
		return 0
	}
	return o.Node.Line
}

// Key returns the value node of key and marks the key as read; nil if absent or null.
func (o *Obj) Key(key string) *yaml.Node {
	o.used[key] = true
	if o.Node == nil {
		return nil
	}
	for i := 0; i+1 < len(o.Node.Content); i += 2 {
		if o.Node.Content[i].Value == key {
			v := Deref(o.Node.Content[i+1])
			if v == nil || v.Tag == "!!null" {
				return nil
			}
			return v
		}
	}
	return nil
}

// Has tells whether key is present (without marking it read).
func (o *Obj) Has(key string) bool {
	if o.Node == nil {
		return false
	}
	for i := 0; i+1 < len(o.Node.Content); i += 2 {
		if o.Node.Content[i].Value == key {
			return true
		}
	}
	return false
}

// LineOf is the line of key, or of the mapping when key is absent.
func (o *Obj) LineOf(key string) int {
	if o.Node != nil {
		for i := 0; i+1 < len(o.Node.Content); i += 2 {
			if o.Node.Content[i].Value == key {
				return o.Node.Content[i].Line
			}
		}
	}
	return o.Line()
}

// Str returns key as a string ("" when absent or not a scalar).
func (o *Obj) Str(key string) string {
	n := o.Key(key)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// Strs returns key as a list of strings; a scalar is a list of one.
func (o *Obj) Strs(key string) []string { return Strings(o.Key(key)) }

// Strings returns the scalars of a sequence node, or the scalar n as a list of one.
func Strings(n *yaml.Node) []string {
	n = Deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		if c = Deref(c); c != nil && c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

// Int returns key as an integer and whether it was present and numeric.
func (o *Obj) Int(key string) (int64, bool) {
	n := o.Key(key)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || v != float64(int64(v)) {
		return 0, false
	}
	return int64(v), true
}

// Bool returns key as a boolean, def when absent or not a boolean.
func (o *Obj) Bool(key string, def bool) bool {
	n := o.Key(key)
	if n == nil {
		return def
	}
	var b bool
	if n.Decode(&b) != nil {
		return def
	}
	return b
}

// Obj returns the mapping under key.
func (o *Obj) Obj(key string) *Obj { return NewObj(o.File, o.Key(key)) }

// List returns the elements of the sequence under key as Objs.
func (o *Obj) List(key string) []*Obj { return Objs(o.File, o.Key(key)) }

// Objs wraps the elements of a sequence node.
func Objs(file string, n *yaml.Node) []*Obj {
	n = Deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*Obj, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, NewObj(file, c))
	}
	return out
}

// Pairs returns the key nodes and value nodes of the mapping, in order.
func (o *Obj) Pairs() (keys, values []*yaml.Node) {
	if o.Node == nil {
		return nil, nil
	}
	for i := 0; i+1 < len(o.Node.Content); i += 2 {
		keys = append(keys, o.Node.Content[i])
		values = append(values, o.Node.Content[i+1])
	}
	return keys, values
}

// Use marks keys as read without looking at them (fields with no effect on
// the gateway, such as ids and tags).
func (o *Obj) Use(keys ...string) {
	for _, k := range keys {
		o.used[k] = true
	}
}

// Rest reports every field of o that was not read as not mapped, under what.
func (o *Obj) Rest(r *Report, what string) {
	keys, _ := o.Pairs()
	for _, k := range keys {
		if !o.used[k.Value] {
			r.Add(o.File, k.Line, what+"."+k.Value, NotMapped, "field not supported by the importer")
		}
	}
}

// Any decodes n into a plain Go value (maps, slices, scalars), for JSON Schemas.
func Any(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

// parse reads the YAML documents of one input file.
func parse(file string, b []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		docs = append(docs, &n)
	}
}

// Keys returns the mapping's keys in order.
func (o *Obj) Keys() []string {
	ks, _ := o.Pairs()
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Value
	}
	return out
}

// Documents parses the inputs, adds their names to p.Files and returns the
// top node of every YAML document (an Obj without Node when it is not a mapping).
func (p *Plan) Documents(inputs []Input) ([]*Obj, error) {
	var out []*Obj
	for _, in := range inputs {
		p.Files = append(p.Files, in.Name)
		docs, err := parse(in.Name, in.Data)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			out = append(out, NewObj(in.Name, d))
		}
	}
	return out, nil
}
