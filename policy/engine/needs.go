package engine

import "github.com/open-policy-agent/opa/v1/ast"

// inputNeeds is what the active policy reads of the input document, found
// once per policy generation in its compiled modules: Rego reads the input
// only through references rooted at input, so a part that no reference
// reaches cannot change a decision and is not built for evaluation (the
// decision log writes the whole document from the gateway's own values).
//
// It is a tree of object keys: a node with all set needs everything below
// it; otherwise only its keys. A nil *inputNeeds means the whole document.
type inputNeeds struct {
	all  bool
	keys map[string]*inputNeeds
}

// analyzeInput collects the input references of every compiled module. A
// reference to input as a whole, or one that goes on with a key that is not
// a constant string (input[x], input.request[k]), needs everything below
// the last constant key.
func analyzeInput(compiler *ast.Compiler) *inputNeeds {
	n := &inputNeeds{}
	for _, m := range compiler.Modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if r.HasPrefix(ast.InputRootRef) {
				n.add(r[1:])
			}
			return false // nested references (input.a[input.b]) count too
		})
	}
	return n
}

// add records that path (below this node) is read.
func (n *inputNeeds) add(path ast.Ref) {
	for _, t := range path {
		if n.all {
			return
		}
		k, ok := t.Value.(ast.String)
		if !ok {
			break
		}
		next := n.keys[string(k)]
		if next == nil {
			if n.keys == nil {
				n.keys = make(map[string]*inputNeeds)
			}
			next = &inputNeeds{}
			n.keys[string(k)] = next
		}
		n = next
	}
	n.all, n.keys = true, nil
}

// allOf needs everything.
var allOf = &inputNeeds{all: true}

// field returns what is needed below key, or nil when nothing is.
func (n *inputNeeds) field(key string) *inputNeeds {
	if n == nil || n.all {
		return allOf
	}
	return n.keys[key]
}

// has reports whether anything below key is needed.
func (n *inputNeeds) has(key string) bool { return n.field(key) != nil }

// reads reports whether anything at path (from the document's root) is
// needed; n is the root (nil: the whole document).
func (n *inputNeeds) reads(path ...string) bool {
	if n == nil {
		return true
	}
	for _, k := range path {
		if n.all {
			return true
		}
		if n = n.keys[k]; n == nil {
			return false
		}
	}
	return true
}
