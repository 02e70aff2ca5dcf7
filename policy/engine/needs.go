package engine

import "github.com/open-policy-agent/opa/v1/ast"

// inputNeeds is what the active policy reads of the input document, found
// once per policy generation in its compiled modules: Rego reads the input
// only through references rooted at input, so a part that no reference
// reaches cannot change a decision and is not built for evaluation (the
// decision log writes the whole document from the gateway's own values).
// A nil *inputNeeds, or all, means the whole document.
type inputNeeds struct {
	all bool
	// top maps each top-level key the policy reads to what it reads below.
	top map[string]*fieldNeeds
}

// fieldNeeds is what the policy reads below one top-level key: all of it,
// or the second-level keys in keys.
type fieldNeeds struct {
	all  bool
	keys map[string]bool
}

// analyzeInput collects the input references of every compiled module. A
// reference to input as a whole, or with a key that is not a constant
// string (input[x], input.request[k]), needs everything at that level.
func analyzeInput(compiler *ast.Compiler) *inputNeeds {
	n := &inputNeeds{top: make(map[string]*fieldNeeds)}
	for _, m := range compiler.Modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			n.add(r)
			return false // nested references (input.a[input.b]) count too
		})
	}
	return n
}

func (n *inputNeeds) add(r ast.Ref) {
	if !r.HasPrefix(ast.InputRootRef) {
		return
	}
	if len(r) < 2 {
		n.all = true
		return
	}
	k, ok := r[1].Value.(ast.String)
	if !ok {
		n.all = true
		return
	}
	f := n.top[string(k)]
	if f == nil {
		f = &fieldNeeds{keys: make(map[string]bool)}
		n.top[string(k)] = f
	}
	if len(r) < 3 {
		f.all = true
		return
	}
	if k2, ok := r[2].Value.(ast.String); ok {
		f.keys[string(k2)] = true
	} else {
		f.all = true
	}
}

// field returns what is needed below key; nil when nothing is.
func (n *inputNeeds) field(key string) *fieldNeeds {
	if n == nil || n.all {
		return allOf
	}
	return n.top[key]
}

// allOf is a fieldNeeds that needs everything.
var allOf = &fieldNeeds{all: true}

// has reports whether key is needed below a needed top-level key.
func (f *fieldNeeds) has(key string) bool {
	return f.all || f.keys[key]
}
