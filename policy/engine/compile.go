package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/bundle"
)

// compiled is one immutable generation of the policy: everything a request
// needs, swapped atomically by Reload.
type compiled struct {
	// eval makes the decisions (a fastEvaluator); decision is its query.
	eval     evaluator
	decision *query
	// mask and drop are nil when the bundles do not define those rules.
	mask, drop *query
	// needs is what the modules read of the input document.
	needs *inputNeeds
	// cache holds this generation's decisions; nil when they cannot be
	// cached, for the reason in cacheOff.
	cache    *decisionCache
	cacheOff string
	// revisions maps bundle name to its identity; it is shared by every
	// decision of this generation and must not be modified.
	revisions map[string]policy.BundleID
	bundles   []BundleStatus
	// data is the bundle data as the store holds it (shared, not a copy).
	data ast.Object
	// held are the raw files of the held paths (API keys), handed over once.
	held     []bundle.HeldFile
	loadedAt time.Time
}

// compile loads, optionally tests, compiles and prepares. It takes no lock
// the request path uses.
func (e *Engine) compile(ctx context.Context) (*compiled, error) {
	loaded, err := bundle.Load(ctx, e.opts.Sources, bundle.Options{MaxBytes: e.opts.MaxBundleBytes, Signing: e.opts.Signing, Hold: e.opts.Hold})
	if err != nil {
		return nil, err
	}
	data, err := mergeData(loaded)
	if err != nil {
		return nil, err
	}
	if e.opts.RequireTests {
		if err := requireTests(ctx, loaded, data); err != nil {
			return nil, err
		}
	}
	compiler, err := compileModules(loaded)
	if err != nil {
		return nil, err
	}
	if err := checkHeld(compiler, e.opts.Hold); err != nil {
		return nil, err
	}
	store, tree, err := newStore(data)
	if err != nil {
		return nil, fmt.Errorf("bundle data: %w", err)
	}

	c := &compiled{revisions: make(map[string]policy.BundleID, len(loaded)), data: tree, held: heldOf(loaded), loadedAt: time.Now(), needs: analyzeInput(compiler)}
	c.cache, c.cacheOff = newDecisionCache(compiler, c.needs, e.opts.DecisionCacheSize)
	c.eval = &fastEvaluator{e: e, c: c}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	for _, l := range loaded {
		c.revisions[l.Name] = policy.BundleID{Revision: l.Revision, Hash: l.Hash}
		c.bundles = append(c.bundles, BundleStatus{Name: l.Name, Revision: l.Revision, Hash: l.Hash, Path: l.Path})
	}
	ref, err := ast.ParseRef(e.opts.Query)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", e.opts.Query, err)
	}
	if len(compiler.GetRulesExact(ref)) == 0 {
		return nil, fmt.Errorf("no bundle defines the decision rule %s", e.opts.Query)
	}
	if c.decision, err = newQuery(compiler, store, txn, ref); err != nil {
		return nil, err
	}
	if c.mask, err = optionalQuery(compiler, store, txn, e.opts.MaskRule); err != nil {
		return nil, err
	}
	if c.drop, err = optionalQuery(compiler, store, txn, e.opts.DropRule); err != nil {
		return nil, err
	}
	return c, nil
}

// cacheState is "on" or why the decisions are not cached.
func (c *compiled) cacheState() string {
	if c.cache != nil {
		return "on"
	}
	return "off: " + c.cacheOff
}

// optionalQuery prepares rule when some module defines it, else returns nil.
func optionalQuery(compiler *ast.Compiler, store storage.Store, txn storage.Transaction, rule string) (*query, error) {
	ref, err := ast.ParseRef(rule)
	if err != nil {
		return nil, fmt.Errorf("rule %q: %w", rule, err)
	}
	if len(compiler.GetRulesExact(ref)) == 0 {
		return nil, nil
	}
	return newQuery(compiler, store, txn, ref)
}

// compileModules compiles the bundles' policy modules (not their tests).
// Errors are ast.Errors with file:line.
func compileModules(loaded []*bundle.Loaded) (*ast.Compiler, error) {
	compiler := ast.NewCompiler()
	compiler.Compile(modulesOf(loaded, false))
	if compiler.Failed() {
		return nil, compiler.Errors
	}
	return compiler, nil
}

// mergeData merges the bundles' data trees; roots are disjoint, so two
// bundles never write the same leaf.
func mergeData(loaded []*bundle.Loaded) (map[string]any, error) {
	out := make(map[string]any)
	for _, l := range loaded {
		if err := bundle.MergeData(out, l.Data); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", l.Name, err)
		}
	}
	return out, nil
}

// requireTests runs the bundles' tests; any failure, or no test at all,
// refuses the bundles.
func requireTests(ctx context.Context, loaded []*bundle.Loaded, data map[string]any) error {
	var out bytes.Buffer
	n, ok, err := runTests(ctx, loaded, data, &out, TestOptions{})
	switch {
	case err != nil:
		return fmt.Errorf("require_tests: %w", err)
	case n == 0:
		return errors.New("require_tests: the bundles define no test_ rules")
	case !ok:
		return fmt.Errorf("require_tests: bundle tests failed:\n%s", failedTests(out.String()))
	}
	return nil
}

// failedTests keeps, from the test report, the files and the failing or
// erroring tests (at most 20 lines), for the reload error and /v1/status.
func failedTests(report string) string {
	var lines []string
	for _, l := range strings.Split(report, "\n") {
		t := strings.TrimSpace(l)
		if (strings.HasSuffix(t, ".rego:") || strings.Contains(t, ": FAIL") || strings.Contains(t, ": ERROR")) && !slices.Contains(lines, t) {
			lines = append(lines, t)
		}
	}
	if len(lines) > 20 {
		lines = append(lines[:20], "…")
	}
	return strings.Join(lines, "\n")
}

// modulesOf maps file path to parsed module for every policy module of
// loaded, and every test module when withTests is set.
func modulesOf(loaded []*bundle.Loaded, withTests bool) map[string]*ast.Module {
	modules := make(map[string]*ast.Module)
	for _, l := range loaded {
		for _, m := range l.Modules {
			modules[m.Path] = m.Parsed
		}
		if withTests {
			for _, m := range l.Tests {
				modules[m.Path] = m.Parsed
			}
		}
	}
	return modules
}
