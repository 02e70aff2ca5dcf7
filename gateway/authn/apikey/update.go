package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/policy/bundle"
)

// fileRec is what an index remembers of one data file: enough to skip it
// when its SHA-256 is unchanged and to diff it when it changes.
type fileRec struct {
	sum  [32]byte
	name string // the file, for errors
	// hashes are the file's keys, sorted; names its consumers, sorted.
	hashes [][32]byte
	names  []string
}

// Update returns the index of the consumers held in files: the data files
// at and below base, the consumers object's position in the data tree
// (bundle.Options.Hold). A file at base holds the consumers object (or
// part of it); a file at base/<name> holds consumer <name> alone, the
// layout in which a change to one consumer touches one small file.
//
// Work is in proportion to the change: a file whose SHA-256 prev already
// holds is not parsed again, and a changed file's keys are diffed against
// prev, so that only the buckets of added, removed or changed keys are
// copied. prev (nil for none) is never modified and stays valid; with no
// change at all Update returns prev itself. Any error refuses the whole
// set (all or nothing). Errors are *DataError where a value is wrong, and
// located *bundle.JSONError where a file does not decode.
func Update(prev *Index, base []string, files []bundle.HeldFile) (*Index, error) {
	if prev != nil && prev.files == nil {
		prev = nil // made by NewIndex: nothing to diff against
	}
	recs := make(map[string]*fileRec, len(files))
	var added []entry
	var errs []error
	changed := false
	for _, f := range files {
		rel, err := relPath(base, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if old, ok := recs[rel]; ok {
			errs = append(errs, fmt.Errorf("%s: consumers at %q again (also in %s)", f.File, rel, old.name))
			continue
		}
		if prev != nil {
			if old, ok := prev.files[rel]; ok && old.sum == f.Sum {
				recs[rel] = old
				continue
			}
		}
		changed = true
		rec, es, err := parseFile(rel, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs[rel] = rec
		added = append(added, es...)
	}
	errs = append(errs, overlaps(recs)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if prev == nil {
		return fromEntries(added, recs), nil
	}
	if !changed && len(recs) == len(prev.files) {
		return prev, nil
	}
	return prev.apply(recs, added)
}

// relPath is f's position below base: "" for the consumers object, or
// one consumer's name.
func relPath(base []string, f bundle.HeldFile) (string, error) {
	switch rest := f.Path[len(base):]; len(rest) {
	case 0:
		return "", nil
	case 1:
		if rest[0] == "" {
			return "", &DataError{Path: []any{""}, Err: errors.New("consumer name is empty")}
		}
		return rest[0], nil
	default:
		return "", fmt.Errorf("%s: consumer data below data.%s.%s: put each consumer's data.json in a directory named after it, directly under %s",
			f.File, strings.Join(base, "."), strings.Join(rest[:1], "."), strings.Join(base, "/"))
	}
}

// overlaps refuses a consumer written both in a file of the consumers
// object and in a file of its own: OPA would merge the two objects, a
// layout too easily a mistake to guess at.
func overlaps(recs map[string]*fileRec) []error {
	obj, ok := recs[""]
	if !ok {
		return nil
	}
	var errs []error
	for _, name := range obj.names {
		if own, ok := recs[name]; ok {
			errs = append(errs, &DataError{Path: []any{name}, Err: fmt.Errorf("is in both %s and %s", obj.name, own.name)})
		}
	}
	return errs
}

// apply makes the index for recs from x, where added are the keys of the
// recs that x does not hold.
func (x *Index) apply(recs map[string]*fileRec, added []entry) (*Index, error) {
	// Keys of files that changed or went away, against the new keys.
	var gone [][32]byte
	for rel, old := range x.files {
		if recs[rel] != old {
			gone = append(gone, old.hashes...)
		}
	}
	slices.SortFunc(gone, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(added, func(a, b entry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	// A key in both that authenticates alike is left in place: a changed
	// file of 1 M keys with one key revoked touches one bucket.
	var del [][32]byte
	var add []entry
	i, j := 0, 0
	for i < len(gone) || j < len(added) {
		var c int
		switch {
		case i == len(gone):
			c = 1
		case j == len(added):
			c = -1
		default:
			c = bytes.Compare(gone[i][:], added[j].hash[:])
		}
		switch {
		case c < 0:
			del = append(del, gone[i])
			i++
		case c > 0:
			add = append(add, added[j])
			j++
		default:
			if cur, _ := x.lookup(&gone[i]); cur == nil || !cur.same(&added[j]) {
				del = append(del, gone[i])
				add = append(add, added[j])
			}
			i++
			j++
		}
	}
	var errs []error
	for k := range add {
		e := &add[k]
		if k > 0 && add[k-1].hash == e.hash {
			errs = append(errs, &DataError{Path: []any{e.cons.name}, Err: fmt.Errorf("key id %q has the same hash as consumers[%q] (id %q)", e.id, add[k-1].cons.name, add[k-1].id)})
			continue
		}
		if cur, ok := x.lookup(&e.hash); ok {
			if _, leaving := slices.BinarySearchFunc(del, e.hash, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }); !leaving {
				errs = append(errs, &DataError{Path: []any{e.cons.name}, Err: fmt.Errorf("key id %q has the same hash as consumers[%q] (id %q)", e.id, cur.cons.name, cur.id)})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := &Index{n: x.n - len(del) + len(add), files: recs}
	out.buckets = slices.Clone(x.buckets)
	if out.buckets == nil {
		out.buckets = make([][]entry, 1<<bucketBits)
	}
	// del and add are sorted by hash, so each touched bucket's changes
	// are runs: one copy per touched bucket.
	for len(del) > 0 || len(add) > 0 {
		b := -1
		if len(del) > 0 {
			b = bucketOf(&del[0])
		}
		if len(add) > 0 && (b < 0 || bucketOf(&add[0].hash) < b) {
			b = bucketOf(&add[0].hash)
		}
		nd, na := 0, 0
		for nd < len(del) && bucketOf(&del[nd]) == b {
			nd++
		}
		for na < len(add) && bucketOf(&add[na].hash) == b {
			na++
		}
		out.buckets[b] = rebucket(out.buckets[b], del[:nd], add[:na])
		del, add = del[nd:], add[na:]
	}
	return out, nil
}

// rebucket returns a new array: old without the hashes in del, plus add,
// sorted. old is not modified.
func rebucket(old []entry, del [][32]byte, add []entry) []entry {
	out := make([]entry, 0, len(old)-len(del)+len(add))
	for _, e := range old {
		if _, found := slices.BinarySearchFunc(del, e.hash, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }); !found {
			out = append(out, e)
		}
	}
	out = append(out, add...)
	slices.SortFunc(out, func(a, b entry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// consumerJSON and keyJSON are the typed form of the consumer data: the
// valid case decodes straight into them, without a generic tree.
type consumerJSON struct {
	Groups []string  `json:"groups"`
	Keys   []keyJSON `json:"keys"`
}

type keyJSON struct {
	ID        string `json:"id"`
	Hash      string `json:"hash"`
	NotBefore any    `json:"not_before"`
	ExpiresAt any    `json:"expires_at"`
}

// parseFile reads one held file (rel as in Update) into its keys. The
// consumers are streamed one by one into the typed form; at the first
// problem the file is decoded again generically and checked by the rules
// of NewIndex, so that the errors are exactly those (failure path only).
func parseFile(rel string, f bundle.HeldFile) (*fileRec, []entry, error) {
	rec := &fileRec{sum: f.Sum, name: f.File}
	es, ok := parseTyped(rel, f.Raw, rec)
	if !ok {
		return nil, nil, parseGeneric(rel, f)
	}
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	for i := 1; i < len(es); i++ {
		if es[i].hash == es[i-1].hash {
			return nil, nil, parseGeneric(rel, f)
		}
	}
	rec.hashes = make([][32]byte, len(es))
	for i := range es {
		rec.hashes[i] = es[i].hash
	}
	slices.Sort(rec.names)
	return rec, es, nil
}

// parseTyped is the fast path; false means "something is wrong".
func parseTyped(rel string, raw []byte, rec *fileRec) ([]entry, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var es []entry
	one := func(name string) bool {
		var c consumerJSON
		if name == "" || dec.Decode(&c) != nil || slices.Contains(c.Groups, "") {
			return false
		}
		cons := &consumer{name: name, groups: c.Groups}
		rec.names = append(rec.names, name)
		for i, k := range c.Keys {
			e, errs := newEntry(nil, k.ID, k.Hash, k.NotBefore, k.ExpiresAt)
			if len(errs) > 0 || slices.ContainsFunc(c.Keys[:i], func(o keyJSON) bool { return o.ID == k.ID }) {
				return false
			}
			e.cons = cons
			es = append(es, e)
		}
		return true
	}
	if rel != "" {
		if !one(rel) {
			return nil, false
		}
	} else {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil, false
		}
		for dec.More() {
			tok, err := dec.Token()
			name, _ := tok.(string)
			if err != nil || !one(name) {
				return nil, false
			}
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
			return nil, false
		}
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // trailing data
	}
	return es, true
}

// parseGeneric finds the errors of a file the fast path refused.
func parseGeneric(rel string, f bundle.HeldFile) error {
	if err := f.Check(); err != nil {
		return err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(f.Raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %w", f.File, err)
	}
	if rel != "" {
		v = map[string]any{rel: v}
	}
	if _, err := entriesOf(v); err != nil {
		return err
	}
	// The generic rules accept what the typed decode refused (it is
	// stricter about JSON than NewIndex is about decoded values).
	return fmt.Errorf("%s: consumer data does not decode as such", f.File)
}
