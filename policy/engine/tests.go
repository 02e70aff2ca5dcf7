package engine

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/portcullis/portcullis/policy/bundle"
)

// TestOptions configures RunTests.
type TestOptions struct {
	// Verbose prints every test, not only failures (opa test -v).
	Verbose bool
	// Run, when set, is a regular expression selecting tests (opa test -r).
	Run string
	// Timeout bounds each test. Default 5s.
	Timeout time.Duration
	// MaxBundleBytes caps each bundle as read. Required.
	MaxBundleBytes int64
}

// RunTests runs the test_ rules of the given bundle directories, .tar.gz
// bundles and single .rego files, printing results to w like `opa test`.
// A directory without a .manifest that holds bundle directories (as the
// repository's bundles/ does) stands for those bundles.
// ok is false when a test fails or errors, or when there is no test; err is
// set when the sources cannot be loaded or compiled.
func RunTests(ctx context.Context, paths []string, w io.Writer, opts TestOptions) (ok bool, err error) {
	var srcs []bundle.Source
	var loose []*bundle.Loaded
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && strings.HasSuffix(p, ".rego") {
			l, err := looseModule(p)
			if err != nil {
				return false, err
			}
			loose = append(loose, l)
			continue
		}
		dirs, err := bundleDirs(p)
		if err != nil {
			return false, err
		}
		for _, d := range dirs {
			srcs = append(srcs, bundle.Source{Path: d})
		}
	}
	var loaded []*bundle.Loaded
	if len(srcs) > 0 {
		if loaded, err = bundle.Load(ctx, srcs, bundle.Options{MaxBytes: opts.MaxBundleBytes}); err != nil {
			return false, err
		}
	}
	loaded = append(loaded, loose...)
	data, err := mergeData(loaded)
	if err != nil {
		return false, err
	}
	n, ok, err := runTests(ctx, loaded, data, w, opts)
	if err == nil && n == 0 {
		fmt.Fprintln(w, "no tests found")
	}
	return ok && n > 0, err
}

// bundleDirs returns p itself when it is a file or a directory with a
// .manifest; else the directories below p that have a .manifest (not
// descending into them), or p when there are none.
func bundleDirs(p string) ([]string, error) {
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return []string{p}, nil
	}
	if _, err := os.Stat(filepath.Join(p, ".manifest")); err == nil {
		return []string{p}, nil
	}
	var dirs []string
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || q == p {
			return err
		}
		if _, err := os.Stat(filepath.Join(q, ".manifest")); err == nil {
			dirs = append(dirs, q)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil || len(dirs) == 0 {
		return []string{p}, err
	}
	return dirs, nil
}

// looseModule wraps a single .rego file as a bundle without roots or data.
func looseModule(path string) (*bundle.Loaded, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ast.ParseModuleWithOpts(path, string(raw), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err != nil {
		return nil, err
	}
	mod := bundle.Module{Path: path, Raw: raw, Parsed: m}
	l := &bundle.Loaded{Name: path, Path: path, Data: map[string]any{}}
	if strings.HasSuffix(path, "_test.rego") {
		l.Tests = []bundle.Module{mod}
	} else {
		l.Modules = []bundle.Module{mod}
	}
	return l, nil
}

// runTests compiles modules and tests of loaded and runs the tests with
// tester.PrettyReporter. It returns the number of tests run and whether
// all passed.
func runTests(ctx context.Context, loaded []*bundle.Loaded, data map[string]any, w io.Writer, opts TestOptions) (int, bool, error) {
	modules := modulesOf(loaded, true)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
	runner := tester.NewRunner().
		SetStore(store).
		SetTimeout(timeout).
		CapturePrintOutput(true).
		Filter(opts.Run)
	ch, err := runner.Run(ctx, modules)
	if err != nil {
		return 0, false, err
	}
	// Count on the way to the reporter: it prints, we decide.
	fwd := make(chan *tester.Result)
	var n, failed int
	go func() {
		defer close(fwd)
		for r := range ch {
			n++
			if !r.Skip && (r.Fail || r.Error != nil) {
				failed++
			}
			fwd <- r
		}
	}()
	rep := tester.PrettyReporter{Output: w, Verbose: opts.Verbose}
	if err := rep.Report(fwd); err != nil {
		for range fwd { // drain so the counting goroutine ends
		}
		return n, false, err
	}
	return n, failed == 0, nil
}
