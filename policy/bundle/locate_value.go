package bundle

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// LocateValue finds where the value at path (object keys as strings,
// array indexes as ints, from the root of data) is written in the
// data.json files of the bundle directory src, so that a problem a
// consumer of the data finds (say, an API key record with a misspelt
// field) can name file and line like a parse error does. ok is false when
// src is not a directory or no data.json holds the value; the caller then
// names the bundle alone. Only failure paths call it.
func LocateValue(src string, path []any) (file string, line int, ok bool) {
	root := filepath.Clean(src)
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", 0, false
	}
	walkFiles(root, func(base string) bool { return base == "data.json" }, func(p string, b []byte) bool {
		// data.json in dir a/b holds the value at data.a.b.
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		rest, under := strings.Split(filepath.ToSlash(rel), "/"), path
		if rel == "." {
			rest = nil
		}
		for _, seg := range rest {
			if len(under) == 0 || under[0] != any(seg) {
				return true
			}
			under = under[1:]
		}
		if n, found := lineOf(b, under); found {
			file, line, ok = p, n, true
		}
		return !ok
	})
	return file, line, ok
}

// lineOf returns the line of b where the value at path begins; for a path
// ending in an object key, the line of that key (a misspelt field is on
// it).
func lineOf(b []byte, path []any) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	for _, step := range path {
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		switch want := step.(type) {
		case string:
			if tok != json.Delim('{') {
				return 0, false
			}
			for {
				kt, err := dec.Token()
				if err != nil || kt == json.Delim('}') {
					return 0, false
				}
				if kt == any(want) {
					break
				}
				if skipValue(dec) != nil {
					return 0, false
				}
			}
		case int:
			if tok != json.Delim('[') || want < 0 {
				return 0, false
			}
			for i := 0; i < want; i++ {
				if !dec.More() || skipValue(dec) != nil {
					return 0, false
				}
			}
			if !dec.More() {
				return 0, false
			}
		default:
			return 0, false
		}
	}
	off := int(dec.InputOffset())
	if len(path) > 0 {
		if _, isIndex := path[len(path)-1].(int); isIndex {
			// After the previous item: move to the item itself.
			for off < len(b) && strings.IndexByte(" \t\r\n,", b[off]) >= 0 {
				off++
			}
		}
	}
	return 1 + bytes.Count(b[:off], []byte("\n")), true
}

// skipValue reads one whole value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
