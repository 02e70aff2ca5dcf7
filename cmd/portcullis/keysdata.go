package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
)

// mergeConsumer adds consumer with rec to the consumers object at dataPath
// (dot-separated, e.g. portcullis.consumers) of the bundle data file.
//
// The file is edited, not re-encoded: the new consumer is spliced in as the
// first member of the consumers object, indented like its siblings, so every
// other byte is kept and a diff of the file shows only the added lines.
// Missing objects along dataPath are created. A consumer of that name, or a
// key id any consumer already uses, is refused. Before the file is replaced
// (a temporary file in the same directory, fsync, rename, same mode) the
// result must decode to the original document plus the consumer, and its
// consumers must load through apikey.NewIndex; otherwise the file is left
// as it was.
func mergeConsumer(file, dataPath, consumer string, rec consumerRecord) error {
	segs := strings.Split(dataPath, ".") // no empty segment: cmdKeysNew checks
	target, err := filepath.EvalSymlinks(file)
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(target)
	if err != nil {
		return err
	}
	doc, err := decodeJSON(src)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want a JSON object at the top", file)
	}
	depth := 0 // obj is the object at segs[:depth], the deepest one that exists
	for ; depth < len(segs); depth++ {
		v, ok := obj[segs[depth]]
		if !ok {
			break
		}
		if obj, ok = v.(map[string]any); !ok {
			return fmt.Errorf("%s: %s is not an object", file, strings.Join(segs[:depth+1], "."))
		}
	}
	if depth == len(segs) {
		if err := refuseDuplicates(obj, consumer, rec.Keys[0].ID); err != nil {
			return fmt.Errorf("%s: %s: %w; nothing was written", file, dataPath, err)
		}
	}
	// The member to add to obj: the consumer, or the rest of the path to it.
	memberKey, memberVal := consumer, any(rec)
	if depth < len(segs) {
		v := map[string]any{consumer: rec}
		for i := len(segs) - 1; i > depth; i-- {
			v = map[string]any{segs[i]: v}
		}
		memberKey, memberVal = segs[depth], v
	}
	span, err := findObject(src, segs[:depth])
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	out := spliceMember(src, span, memberKey, func(indent, step string) string {
		if depth == len(segs) {
			return renderMember(nil, "", rec, indent, step)
		}
		return renderMember(segs[depth+1:], consumer, rec, indent, step)
	})
	// What the file must decode to: the original plus the member.
	if obj[memberKey], err = roundTrip(memberVal); err != nil {
		return err
	}
	if err := checkMerged(out, doc, segs); err != nil {
		return fmt.Errorf("%s: with the new consumer the file would not load (%w); nothing was written", file, err)
	}
	return writeAtomic(target, out, st.Mode().Perm())
}

// refuseDuplicates fails when consumers has consumer or a key with id.
func refuseDuplicates(consumers map[string]any, consumer, id string) error {
	if _, dup := consumers[consumer]; dup {
		return fmt.Errorf("consumer %q already exists (pick another --consumer; to give it a second key, add the record's key to its keys by hand)", consumer)
	}
	for name, c := range consumers {
		cm, _ := c.(map[string]any)
		keys, _ := cm["keys"].([]any)
		for _, k := range keys {
			if km, _ := k.(map[string]any); km["id"] == id {
				return fmt.Errorf("key id %q is already used by consumer %q (pick another --id)", id, name)
			}
		}
	}
	return nil
}

// checkMerged verifies that out decodes to want and that its consumers at
// segs load through apikey.NewIndex.
func checkMerged(out []byte, want any, segs []string) error {
	got, err := decodeJSON(out)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(got, want) {
		return errors.New("the edited file does not decode to the original plus the new consumer")
	}
	v := got
	for _, s := range segs {
		v = v.(map[string]any)[s]
	}
	_, err = apikey.NewIndex(v)
	return err
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("not JSON: data after the top-level value")
	}
	return v, nil
}

// roundTrip is v as decodeJSON would return it.
func roundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

// objSpan locates an object in a JSON text.
type objSpan struct {
	open, close int    // offsets of its '{' and '}'
	first       int    // offset of its first member's key; -1 when empty
	indent      string // whitespace before the first member on its line; "" when not on a line of its own
}

// findObject finds the object at path (object keys from the top) in src.
func findObject(src []byte, path []string) (objSpan, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	var found *objSpan
	var walk func(rest []string, onPath bool) error
	walk = func(rest []string, onPath bool) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		s := objSpan{open: int(dec.InputOffset()) - 1, first: -1}
		for dec.More() {
			if d == '[' {
				if err := walk(nil, false); err != nil {
					return err
				}
				continue
			}
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if s.first < 0 { // (More skips whitespace, so look from the brace)
				seg := src[s.open+1 : dec.InputOffset()]
				q := bytes.IndexByte(seg, '"')
				s.first = s.open + 1 + q
				if nl := bytes.LastIndexByte(seg[:q], '\n'); nl >= 0 {
					s.indent = string(seg[nl+1 : q])
				}
			}
			childOn, childRest := false, []string(nil)
			if onPath && len(rest) > 0 && rest[0] == key {
				childOn, childRest = true, rest[1:]
			}
			if err := walk(childRest, childOn); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if d == '{' && onPath && len(rest) == 0 {
			s.close = int(dec.InputOffset()) - 1
			found = &s
		}
		return nil
	}
	if err := walk(path, true); err != nil {
		return objSpan{}, fmt.Errorf("not JSON: %w", err)
	}
	if found == nil {
		return objSpan{}, fmt.Errorf("no object at %s", strings.Join(path, "."))
	}
	return *found, nil
}

// lineIndent is the leading whitespace of the line holding src[pos].
func lineIndent(src []byte, pos int) string {
	start := bytes.LastIndexByte(src[:pos], '\n') + 1
	end := start
	for end < pos && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return string(src[start:end])
}

// spliceMember inserts "key": value into the object at s, first, on a line
// of its own indented like the other members, so the lines after it are
// unchanged. render formats the value at an indentation, with a step.
func spliceMember(src []byte, s objSpan, key string, render func(indent, step string) string) []byte {
	base := lineIndent(src, s.open)
	step := "  "
	if s.indent != "" && strings.HasPrefix(s.indent, base) && len(s.indent) > len(base) {
		step = s.indent[len(base):]
	}
	k := jsonText(key)
	var ins string
	start, end := s.first, s.first
	switch {
	case s.first >= 0 && s.indent == "": // {"a": 1} on one line: stay on it
		ins = fmt.Sprintf("%s: %s, ", k, render("", ""))
	case s.first >= 0:
		ins = fmt.Sprintf("%s: %s,\n%s", k, render(s.indent, step), s.indent)
	default: // {} or an object with only whitespace
		in := base + step
		start, end = s.open, s.close+1
		ins = fmt.Sprintf("{\n%s%s: %s\n%s}", in, k, render(in, step), base)
	}
	out := make([]byte, 0, len(src)+len(ins))
	out = append(append(append(out, src[:start]...), ins...), src[end:]...)
	return out
}

// renderMember formats the value of the new member: the consumer, inside
// objects for the missing path segments. The consumer is laid out like
// bundles/portcullis/data.json, one field a line and its arrays on it:
//
//	{
//	  "groups": ["read-access"],
//	  "keys": [{"id": "partner-2026-04", "hash": "sha256:..."}]
//	}
//
// An empty indent and step give it all on one line.
func renderMember(missing []string, consumer string, rec consumerRecord, indent, step string) string {
	nl := func(in string) string {
		if step == "" {
			return ""
		}
		return "\n" + in
	}
	if len(missing) > 0 {
		in := indent + step
		return "{" + nl(in) + jsonText(missing[0]) + ": " + renderMember(missing[1:], consumer, rec, in, step) + nl(indent) + "}"
	}
	if consumer != "" {
		in := indent + step
		return "{" + nl(in) + jsonText(consumer) + ": " + renderMember(nil, "", rec, in, step) + nl(indent) + "}"
	}
	groups := make([]string, len(rec.Groups))
	for i, g := range rec.Groups {
		groups[i] = jsonText(g)
	}
	keys := make([]string, len(rec.Keys))
	for i, k := range rec.Keys {
		f := []string{`"id": ` + jsonText(k.ID), `"hash": ` + jsonText(k.Hash)}
		if k.NotBefore != "" {
			f = append(f, `"not_before": `+jsonText(k.NotBefore))
		}
		if k.ExpiresAt != "" {
			f = append(f, `"expires_at": `+jsonText(k.ExpiresAt))
		}
		keys[i] = "{" + strings.Join(f, ", ") + "}"
	}
	sep := "," + nl(indent+step)
	if step == "" {
		sep = ", "
	}
	return "{" + nl(indent+step) + `"groups": [` + strings.Join(groups, ", ") + "]" + sep +
		`"keys": [` + strings.Join(keys, ", ") + "]" + nl(indent) + "}"
}

// jsonText is s as a JSON string, without HTML escaping.
func jsonText(s string) string {
	b, _ := marshalIndent(s, "", "")
	return string(b)
}

// writeAtomic replaces path with data: a temporary file in the same
// directory (not named *.json, so a bundle watcher does not load it),
// fsync, rename, then fsync of the directory.
func writeAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
