package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// HeldFile is bundle data that a consumer outside OPA reads itself (the
// gateway's API keys): it never enters the decoded data tree, so it costs
// neither a generic map[string]any nor, later, OPA's store. Raw is JSON.
type HeldFile struct {
	// Path is the position of the file's value in the data tree.
	Path []string
	// File is where the value was read: the data file on disk, or
	// archive.tar.gz/path for a tarball. A value cut out of a data file
	// above the held path names that file.
	File string
	// Raw is the value as JSON: the file's own bytes when the whole file
	// lies at or below the held path, else the cut-out value re-encoded.
	Raw []byte
	// Sum is the SHA-256 of Raw, so that a reader can skip unchanged files.
	Sum [32]byte
}

// holdPaths splits the dotted held paths ("portcullis.consumers").
func holdPaths(hold []string) [][]string {
	out := make([][]string, 0, len(hold))
	for _, h := range hold {
		if h != "" {
			out = append(out, strings.Split(h, "."))
		}
	}
	return out
}

// splitData does for a bundle read in OPA's lazy mode what OPA's reader does
// in the default mode (decode each data file and merge it into one tree at
// its directory's position), except that files at or below a held path are
// kept raw and a held value inside a file above it is cut out of the tree.
// file names a data file's path in the bundle for errors.
func splitData(b *opabundle.Bundle, hold [][]string, file func(rel string) string) (map[string]any, []HeldFile, error) {
	data := map[string]any{}
	var held []HeldFile
	for _, r := range b.Raw {
		rel := filepath.ToSlash(r.Path)
		isYAML := opabundle.IsYAMLDataFile(rel)
		if path.Base(rel) != "data.json" && !isYAML {
			continue // modules are in b.Modules too
		}
		key := dirKey(rel)
		name := file(rel)
		if slices.ContainsFunc(hold, func(h []string) bool { return hasPrefix(key, h) }) {
			raw := r.Value
			if isYAML {
				var err error
				if raw, err = yamlToJSON(raw); err != nil {
					return nil, nil, fmt.Errorf("bundle load failed on %v: %w", name, err)
				}
			}
			held = append(held, HeldFile{Path: key, File: name, Raw: raw, Sum: sha256.Sum256(raw)})
			continue
		}
		// A held value inside a JSON file above the held path is cut out of
		// the bytes before decoding: a 145 MB consumers object in a root
		// data.json never becomes a generic tree.
		value := r.Value
		for _, h := range hold {
			if len(h) > len(key) && hasPrefix(h, key) && !isYAML {
				if s, e, ok := heldSpan(value, h[len(key):]); ok {
					held = append(held, HeldFile{Path: h, File: name, Raw: value[s:e], Sum: sha256.Sum256(value[s:e])})
					value = slices.Concat(value[:s], []byte("null"), value[e:])
				}
			}
		}
		var v any
		var err error
		if isYAML {
			err = util.Unmarshal(value, &v)
		} else if err = util.UnmarshalJSON(value, &v); err != nil {
			if located := checkJSON(name, "data.json", r.Value); located != nil {
				return nil, nil, located
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bundle load failed on %v: %w", name, err)
		}
		for _, h := range hold {
			if len(h) > len(key) && hasPrefix(h, key) {
				cut, found, err := cutOut(v, h[len(key):])
				if err != nil {
					return nil, nil, fmt.Errorf("bundle load failed on %v: %w", name, err)
				}
				// A JSON file's held value is null here (cut out above)
				// unless heldSpan could not find it (an escaped key).
				if found && !(string(cut) == "null" && !isYAML) {
					held = append(held, HeldFile{Path: h, File: name, Raw: cut, Sum: sha256.Sum256(cut)})
				}
			}
		}
		if err := insertData(data, key, v); err != nil {
			return nil, nil, fmt.Errorf("bundle load failed on %v: %w", name, err)
		}
	}
	return data, held, nil
}

// dirKey is the data-tree position of a data file: its directory, as
// OPA's reader computes it.
func dirKey(rel string) []string {
	dir := strings.TrimLeft(path.Dir(rel), "/.")
	if dir == "" {
		return nil
	}
	return strings.Split(dir, "/")
}

func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// heldSpan finds the byte range of the value at rest in the JSON object
// raw without decoding it (siblings on the way are skipped, not decoded).
// ok is false when it is not there, raw is not such an object, or a key on
// the way appears twice in its object: a decode keeps the last of repeated
// keys (as OPA's does), this scan would find the first, so the caller's
// decode, which reports or finds the value, is left to decide.
func heldSpan(raw []byte, rest []string) (start, end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	for _, k := range rest {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return 0, 0, false
		}
		if found, err := seekKey(dec, k); err != nil || !found {
			return 0, 0, false
		}
	}
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return 0, 0, false
	}
	end = int(dec.InputOffset())
	for i := len(rest) - 1; i >= 0; i-- {
		again, err := seekKey(dec, rest[i])
		if err != nil || again {
			return 0, 0, false
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
			return 0, 0, false
		}
	}
	return end - len(v), end, true
}

// seekKey reads the members of the object dec is in up to key k, leaving
// dec before its value, or to the object's end (found false).
func seekKey(dec *json.Decoder, k string) (found bool, err error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		if tok == any(k) {
			return true, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false, err
		}
	}
	return false, nil
}

// cutOut removes the value at rest from v, returning it as JSON. A path
// that runs into a non-object or a missing key holds nothing.
func cutOut(v any, rest []string) ([]byte, bool, error) {
	for i, k := range rest {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		child, ok := obj[k]
		if !ok {
			return nil, false, nil
		}
		if i == len(rest)-1 {
			delete(obj, k)
			raw, err := json.Marshal(child)
			return raw, true, err
		}
		v = child
	}
	return nil, false, nil
}

func yamlToJSON(raw []byte) ([]byte, error) {
	var v any
	if err := util.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// insertData merges value into data at key with OPA's semantics: objects
// merge key by key, any other collision is a conflict.
func insertData(data map[string]any, key []string, value any) error {
	for i := len(key) - 1; i >= 0; i-- {
		value = map[string]any{key[i]: value}
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return errors.New("root value must be object")
	}
	return MergeData(data, obj)
}

// MergeData merges the data tree src into dst with OPA's semantics:
// objects merge key by key, any other collision is a conflict, which
// stops the merge (the caller discards dst then). Bundle data files and
// the bundles' trees are merged alike.
func MergeData(dst, src map[string]any) error {
	if at, conflict := mergeMaps(dst, src); conflict {
		return fmt.Errorf("data conflict at /%s", strings.Join(at, "/"))
	}
	return nil
}

func mergeMaps(dst, src map[string]any) ([]string, bool) {
	for k, v := range src {
		cur, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		a, okA := cur.(map[string]any)
		b, okB := v.(map[string]any)
		if !okA || !okB {
			return []string{k}, true
		}
		if at, conflict := mergeMaps(a, b); conflict {
			return append([]string{k}, at...), true
		}
	}
	return nil, false
}

// checkHeldRoots refuses held data outside the manifest roots, as
// checkDataRoots does for the rest.
func checkHeldRoots(roots []string, held []HeldFile) error {
	for _, h := range held {
		p := strings.Join(h.Path, "/")
		if !opabundle.RootPathsContain(roots, p) {
			return fmt.Errorf("manifest roots %v do not permit data at path /%s", roots, p)
		}
	}
	return nil
}

// Check returns the first JSON problem of f, located to line and column
// (a *JSONError), or nil when f decodes. Readers of held data call it on
// their failure path: OPA never decodes held files, so it reports nothing.
func (f HeldFile) Check() error { return checkJSON(f.File, "data.json", f.Raw) }
