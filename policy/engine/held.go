package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy/bundle"
)

// TakeHeld returns the raw data files under Options.Hold of the active
// state, in bundle order, and lets go of them: the caller owns their
// bytes (150 MB at 1 M API keys), and a second call returns nil. The
// gateway reads them once, into its own index.
func (e *Engine) TakeHeld() []bundle.HeldFile {
	c := e.state.Load()
	if c == nil {
		return nil
	}
	e.heldMu.Lock()
	defer e.heldMu.Unlock()
	held := c.held
	c.held = nil
	return held
}

// heldOf collects the held files of every bundle.
func heldOf(loaded []*bundle.Loaded) []bundle.HeldFile {
	var out []bundle.HeldFile
	for _, l := range loaded {
		out = append(out, l.Held...)
	}
	return out
}

// checkHeld refuses modules that read, or could read, held data: it is
// not in the store, so such a rule would silently see nothing. The
// compiled modules are walked, so imports and aliases are resolved.
func checkHeld(compiler *ast.Compiler, hold []string) error {
	if len(hold) == 0 {
		return nil
	}
	paths := make([][]string, 0, len(hold))
	for _, h := range hold {
		paths = append(paths, strings.Split(h, "."))
	}
	var errs []error
	files := make([]string, 0, len(compiler.Modules))
	for f := range compiler.Modules {
		files = append(files, f)
	}
	slices.Sort(files) // deterministic error order
	for _, f := range files {
		for _, rule := range compiler.Modules[f].Rules {
			ast.WalkRefs(rule, func(ref ast.Ref) bool {
				if !ref.HasPrefix(ast.DefaultRootRef) {
					return false
				}
				for i, p := range paths {
					if reaches(ref, p) {
						errs = append(errs, fmt.Errorf("%s: %s reads data.%s, which the gateway holds (API keys) and policies do not see: use input.identity",
							ref[0].Location, ref, hold[i]))
					}
				}
				return false
			})
		}
	}
	return errors.Join(errs...)
}

// reaches reports whether ref (starting at data) may read into the
// subtree at path: each step names the same key, or a variable that could
// be it, or ref stops above path (it reads the whole subtree).
func reaches(ref ast.Ref, path []string) bool {
	for i, seg := range path {
		if i+1 >= len(ref) {
			return true
		}
		switch t := ref[i+1].Value.(type) {
		case ast.String:
			if string(t) != seg {
				return false
			}
		case ast.Var, ast.Ref, ast.Call:
			// could be seg
		default:
			return false // a number or a composite is never an object key
		}
	}
	return true
}
