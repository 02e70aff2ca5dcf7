// Package bundle loads OPA bundles (directories or .tar.gz files) with size caps, root checks and optional signatures.
package bundle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// Source names one bundle: a directory in OPA bundle layout or a .tar.gz
// file built by `opa build`. Name defaults to the base name of Path.
type Source struct {
	Name string
	Path string
}

// Options configures loading.
type Options struct {
	// MaxBytes caps a bundle as read: every file, the sum of all files, and
	// for a .tar.gz both the compressed and the uncompressed size (OPA guards
	// against gzip bombs per file; the total is checked here). Required.
	MaxBytes int64
	// Signing, when non-nil, refuses bundles without a valid .signatures.json.
	Signing *Signing
	// Hold are dotted data paths (e.g. "portcullis.consumers") whose data
	// is kept raw in Loaded.Held instead of the decoded Data.
	Hold []string
}

// Module is one Rego file of a bundle, parsed with its real file path so
// that parse and compile errors point at the file on disk.
type Module struct {
	Path   string
	Raw    []byte
	Parsed *ast.Module
}

// Loaded is one bundle as read from disk.
type Loaded struct {
	Name     string
	Path     string
	Revision string
	// Hash is the bundle's content hash (see contentHash).
	Hash string
	// Roots are the manifest roots without leading or trailing slashes; a
	// bundle without a manifest owns the whole data tree ([""]).
	Roots []string
	// Modules are the policy files; Tests are the *_test.rego files, which
	// are only compiled to run tests.
	Modules []Module
	Tests   []Module
	// Data is the merged data.json/data.yaml content of the bundle.
	Data map[string]any
	// Held is the data under Options.Hold, kept raw.
	Held []HeldFile
}

// Load reads every source and refuses the set when two bundles claim
// overlapping roots. Errors name the source and, for Rego errors, carry
// file:line locations (they wrap ast.Errors).
func Load(ctx context.Context, srcs []Source, opts Options) ([]*Loaded, error) {
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("bundle size cap %d: want > 0", opts.MaxBytes)
	}
	if len(srcs) == 0 {
		return nil, errors.New("no bundle sources")
	}
	var vc *opabundle.VerificationConfig
	if opts.Signing != nil {
		var err error
		if vc, err = opts.Signing.verificationConfig(); err != nil {
			return nil, err
		}
	}
	out := make([]*Loaded, 0, len(srcs))
	for _, src := range srcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := loadOne(src, opts.MaxBytes, vc, holdPaths(opts.Hold))
		var located *JSONError
		switch {
		case errors.As(err, &located):
			return nil, err // file:line:col already names the bundle's file
		case err != nil:
			return nil, fmt.Errorf("bundle %s (%s): %w", src.name(), src.Path, err)
		}
		out = append(out, l)
	}
	if err := CheckRoots(out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	base := filepath.Base(filepath.Clean(s.Path))
	return strings.TrimSuffix(base, ".tar.gz")
}

func loadOne(src Source, maxBytes int64, vc *opabundle.VerificationConfig, hold [][]string) (*Loaded, error) {
	fi, err := os.Stat(src.Path)
	if err != nil {
		return nil, err
	}
	var loader opabundle.DirectoryLoader
	if fi.IsDir() {
		if err := checkDirSize(src.Path, maxBytes); err != nil {
			return nil, err
		}
		loader = opabundle.NewDirectoryLoader(src.Path).
			WithFollowSymlinks(true). // Kubernetes ConfigMap files are symlinks
			WithFilter(skipHidden(src.Path))
	} else {
		raw, err := readTarball(src.Path, maxBytes)
		if err != nil {
			return nil, err
		}
		loader = opabundle.NewTarballLoaderWithBaseURL(raw, "")
	}
	loader = loader.WithSizeLimitBytes(maxBytes)
	r := opabundle.NewCustomReader(loader).
		WithSizeLimitBytes(maxBytes).
		WithBundleName(src.name()).
		WithProcessAnnotations(true).
		WithRegoVersion(ast.RegoV1).
		// Lazy mode leaves the data files raw for splitData; signatures
		// are still verified over every file's bytes as they are read.
		WithLazyLoadingMode(len(hold) > 0)
	if vc != nil {
		r = r.WithBundleVerificationConfig(vc)
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	if err != nil {
		if located := locateJSON(src.Path, fi.IsDir()); located != nil {
			return nil, located
		}
		return nil, relocate(err, src.Path)
	}
	var held []HeldFile
	if len(hold) > 0 {
		if b.Data, held, err = splitData(&b, hold, dataFileName(src.Path, fi.IsDir())); err != nil {
			return nil, err
		}
	}
	return fromOPA(src, &b, held)
}

// dataFileName names a data file of the bundle at src the way locateJSON does.
func dataFileName(src string, isDir bool) func(rel string) string {
	return func(rel string) string {
		rel = strings.TrimPrefix(rel, "/")
		if isDir {
			return filepath.Join(src, filepath.FromSlash(rel))
		}
		return src + "/" + rel
	}
}

// fromOPA converts an OPA bundle, re-parsing each module under its real path
// (OPA names them relative to the bundle root, e.g. "/authz.rego").
func fromOPA(src Source, b *opabundle.Bundle, held []HeldFile) (*Loaded, error) {
	sum, err := contentHash(b, held)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Name: src.name(), Path: src.Path, Revision: b.Manifest.Revision, Hash: sum, Data: b.Data, Held: held}
	if b.Manifest.Roots != nil {
		l.Roots = append(l.Roots, *b.Manifest.Roots...)
	} else {
		l.Roots = []string{""}
	}
	if l.Data == nil {
		l.Data = map[string]any{}
	}
	if err := checkDataRoots(l.Roots, "", l.Data); err != nil {
		return nil, err
	}
	if err := checkHeldRoots(l.Roots, held); err != nil {
		return nil, err
	}
	for _, mf := range b.Modules {
		v, err := b.RegoVersionForFile(mf.RelativePath, ast.RegoV1)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(src.Path, filepath.FromSlash(mf.RelativePath))
		parsed, err := ast.ParseModuleWithOpts(p, string(mf.Raw), ast.ParserOptions{RegoVersion: v, ProcessAnnotation: true})
		if err != nil {
			return nil, err
		}
		m := Module{Path: p, Raw: mf.Raw, Parsed: parsed}
		if strings.HasSuffix(mf.RelativePath, "_test.rego") {
			l.Tests = append(l.Tests, m)
		} else {
			l.Modules = append(l.Modules, m)
		}
	}
	return l, nil
}

// skipHidden skips dot files other than the manifest and signatures, and
// Kubernetes' "..data"/"..2026_..." directories, which would otherwise load
// every file of a ConfigMap twice.
func skipHidden(root string) func(string, fs.FileInfo, int) bool {
	root = filepath.Clean(root)
	return func(p string, _ fs.FileInfo, _ int) bool {
		if filepath.Clean(p) == root {
			return false
		}
		base := filepath.Base(p)
		switch {
		case base == ".manifest" || base == ".signatures.json":
			return false
		case strings.HasPrefix(base, "."):
			return true
		}
		return false
	}
}

// checkDirSize sums the files the directory loader will read.
func checkDirSize(root string, maxBytes int64) error {
	skip := skipHidden(root)
	var total int64
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skip(p, nil, 0) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p) // follows symlinks, like the loader
		if err != nil || !fi.Mode().IsRegular() {
			return nil //nolint:nilerr // dangling links and special files are not read
		}
		total += fi.Size()
		if total > maxBytes {
			return fmt.Errorf("bundle exceeds %d bytes", maxBytes)
		}
		return nil
	})
}

// relocate prefixes the file of every located Rego error with the bundle path.
func relocate(err error, base string) error {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		if e.Location != nil && e.Location.File != "" && !strings.HasPrefix(e.Location.File, base) {
			e.Location.File = filepath.Join(base, filepath.FromSlash(e.Location.File))
		}
	}
	return err
}
