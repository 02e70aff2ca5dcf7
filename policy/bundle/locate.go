package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// JSONError is a JSON file of a bundle (.manifest, data.json) that does
// not decode, located to the line and column of the problem.
type JSONError struct {
	File      string // the path on disk, or archive.tar.gz/path for a tarball
	Line, Col int
	Msg       string
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// locateJSON runs when OPA's loader refused a bundle: OPA names neither the
// line nor, for the manifest, the file. It decodes the bundle's JSON files
// again and returns the first problem found, located, or nil when they all
// decode (the problem is elsewhere). Only the failure path pays for it.
func locateJSON(src string, isDir bool) error {
	if isDir {
		var found error
		walkFiles(src, isBundleJSON, func(p string, b []byte) bool {
			found = checkJSON(p, filepath.Base(p), b)
			return found == nil
		})
		return found
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag != tar.TypeReg || !isBundleJSON(path.Base(name)) {
			continue
		}
		b, err := io.ReadAll(tr) // the archive's size was checked by readTarball
		if err != nil {
			return nil
		}
		if e := checkJSON(src+"/"+name, path.Base(name), b); e != nil {
			return e
		}
	}
}

func isBundleJSON(base string) bool { return base == ".manifest" || base == "data.json" }

// walkFiles calls visit with the path and content of every file of the
// bundle directory root whose base name match accepts, skipping what the
// loader skips (hidden files and directories), until visit returns false.
// Unreadable files are passed over: the callers only locate problems.
func walkFiles(root string, match func(base string) bool, visit func(path string, b []byte) bool) {
	root = filepath.Clean(root)
	skip := skipHidden(root)
	done := false
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || done {
			return err
		}
		if skip(p, nil, 0) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !match(filepath.Base(p)) {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			done = !visit(p, b)
		}
		return nil
	})
}

// checkJSON decodes b (the manifest into OPA's Manifest type, so that a
// wrongly typed field is found too) and locates the first error.
func checkJSON(file, base string, b []byte) error {
	var v any = new(any)
	if base == ".manifest" {
		v = new(opabundle.Manifest)
	}
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	// Offset is where the decoder stopped: just past the offending byte, or
	// past the end of a wrongly typed value; at the end of the input the
	// position is just after it.
	at, msg := int64(len(b)), err.Error()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && msg != "unexpected end of JSON input":
		at = se.Offset - 1
	case errors.As(err, &te):
		at = te.Offset - 1
		msg = fmt.Sprintf("%s: want %s, got %s", te.Field, te.Type, te.Value)
	}
	line, col := position(b, at)
	return &JSONError{File: file, Line: line, Col: col, Msg: msg}
}

// position returns the 1-based line and column of byte i of b (i may be len(b)).
func position(b []byte, i int64) (line, col int) {
	i = max(0, min(i, int64(len(b))))
	before := b[:i]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(i) - bytes.LastIndexByte(before, '\n')
	return line, col
}
