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
	// hashes are the file's keys, sorted.
	hashes [][32]byte
	// fps are the fingerprints of the file's keys in file order, from the
	// scanner (nil after a generic decode), for the next scan's diff.
	fps []uint64
	// names are FNV-1a hashes of the consumer names of a file of the
	// consumers object, sorted, to find a consumer that also has a file
	// of its own (8 bytes per consumer instead of its name).
	names []uint64
}

// Update returns the index of the consumers held in files: the data files
// at and below base, the consumers object's position in the data tree
// (bundle.Options.Hold), less the keys of the revocation list, the files
// at revokedBase. A file at base holds the consumers object (or
// part of it); a file at base/<name> holds consumer <name> alone, the
// layout in which a change to one consumer touches one small file.
//
// Work is in proportion to the change: a file whose SHA-256 prev already
// holds is not parsed again; a changed file is scanned, but a key that
// prev holds with the same values allocates nothing, and only the
// buckets of added, removed or changed keys are copied. prev (nil for
// none) is never modified and stays valid; with no change at all Update
// returns prev itself. Any error refuses the whole set (all or nothing).
// Errors are *DataError where a value is wrong, and located
// *bundle.JSONError where a file does not decode, *RevocationError for
// the list. A change to the list alone reads only the list.
func Update(prev *Index, base, revokedBase []string, files []bundle.HeldFile) (*Index, error) {
	if prev == nil || prev.files == nil {
		prev = &Index{} // none, or made by NewIndex: nothing to diff against
	}
	var list []bundle.HeldFile
	files = slices.DeleteFunc(slices.Clone(files), func(f bundle.HeldFile) bool {
		if len(revokedBase) > 0 && len(f.Path) >= len(revokedBase) && slices.Equal(f.Path[:len(revokedBase)], revokedBase) {
			list = append(list, f)
			return true
		}
		return false
	})
	rev, err := revocationsOf(prev.revoked, revokedBase, list)
	x, kerr := updateKeys(prev, base, files)
	if err := errors.Join(append(unjoin(kerr), unjoin(err)...)...); err != nil {
		return nil, err // one flat list, each error located on its own
	}
	if x.revoked != rev {
		if x == prev {
			copied := *prev
			x = &copied
		}
		x.revoked = rev
	}
	return x, nil
}

// unjoin is the list of errors errors.Join made err of.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

// updateKeys is Update for the key files.
func updateKeys(prev *Index, base []string, files []bundle.HeldFile) (*Index, error) {
	rels := make([]string, len(files))
	own := map[string]bool{} // consumers with a file of their own
	var errs []error
	for i, f := range files {
		var err error
		if rels[i], err = relPath(base, f); err != nil {
			errs = append(errs, err)
		} else if rels[i] != "" {
			own[rels[i]] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	recs := make(map[string]*fileRec, len(files))
	var added []entry
	var fresh [][32]byte // the keys of the files parsed now
	for i, f := range files {
		rel := rels[i]
		if old, ok := recs[rel]; ok {
			errs = append(errs, fmt.Errorf("%s: consumers at %q again (also in %s)", f.File, rel, old.name))
			continue
		}
		if old, ok := prev.files[rel]; ok && old.sum == f.Sum {
			recs[rel] = old
			continue
		}
		rec, es, err := parseFile(prev, rel, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs[rel] = rec
		added = append(added, es...)
		fresh = append(fresh, rec.hashes...)
	}
	errs = append(errs, overlaps(recs, own)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if fresh == nil && len(recs) == len(prev.files) && prev.buckets != nil {
		return prev, nil
	}
	return prev.apply(recs, fresh, added)
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
func overlaps(recs map[string]*fileRec, own map[string]bool) []error {
	obj, ok := recs[""]
	if !ok {
		return nil
	}
	var errs []error
	for name := range own {
		if _, found := slices.BinarySearch(obj.names, nameSum(name)); found {
			errs = append(errs, &DataError{Path: []any{name}, Err: fmt.Errorf("is in both %s and %s", obj.name, recs[name].name)})
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// nameSum is the FNV-1a hash of a consumer name.
func nameSum[S string | []byte](name S) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return h
}

// apply makes the index for recs from x. fresh are the keys of the recs
// parsed now (x holds the others), added those of their keys that x does
// not hold with the same values.
func (x *Index) apply(recs map[string]*fileRec, fresh [][32]byte, added []entry) (*Index, error) {
	var gone [][32]byte // keys of the files that changed or went away
	for rel, old := range x.files {
		if recs[rel] != old {
			gone = append(gone, old.hashes...)
		}
	}
	sortHashes(gone)
	sortHashes(fresh)
	sortEntries(added)
	var errs []error
	var del [][32]byte
	dup := func(h *[32]byte, other *entry) {
		lo, _ := slices.BinarySearchFunc(added, *h, func(e entry, h [32]byte) int { return bytes.Compare(e.hash[:], h[:]) })
		var these []*entry
		for k := lo; k < len(added) && added[k].hash == *h; k++ {
			these = append(these, &added[k])
		}
		if other != nil {
			these = append([]*entry{other}, these...)
		}
		slices.SortStableFunc(these[min(1, len(these)):], func(a, b *entry) int { return strings.Compare(a.cons.name, b.cons.name) })
		if len(these) < 2 {
			errs = append(errs, errors.New("a key is in two files"))
			return
		}
		e, o := these[len(these)-1], these[0]
		errs = append(errs, &DataError{Path: []any{e.cons.name}, Err: fmt.Errorf("key id %q has the same hash as consumers[%q] (id %q)", e.id, o.cons.name, o.id)})
	}
	i, j := 0, 0
	for i < len(gone) || j < len(fresh) {
		switch {
		case j > 0 && j < len(fresh) && fresh[j] == fresh[j-1]:
			dup(&fresh[j], nil)
			j++
		case j == len(fresh) || i < len(gone) && bytes.Compare(gone[i][:], fresh[j][:]) < 0:
			del = append(del, gone[i]) // gone for good
			i++
		case i == len(gone) || bytes.Compare(gone[i][:], fresh[j][:]) > 0:
			if cur, held := x.lookup(&fresh[j]); held { // and kept by an unchanged file
				dup(&fresh[j], cur)
			}
			j++
		default:
			i++ // in both: replaced if in added, else kept as it is
			j++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for k := range added {
		if _, held := x.lookup(&added[k].hash); held {
			del = append(del, added[k].hash) // replaced by its new values
		}
	}
	sortHashes(del)
	out := &Index{n: x.n - len(del) + len(added), files: recs, revoked: x.revoked}
	out.buckets = slices.Clone(x.buckets)
	if out.buckets == nil {
		out.buckets = make([][]entry, 1<<bucketBits)
	}
	// del and added are sorted by hash, so each touched bucket's changes
	// are runs: one copy per touched bucket.
	add := added
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
// sorted. old is not modified. A bucket that only gains keys on a first
// load is a window on add itself: no copy of 1 M entries.
func rebucket(old []entry, del [][32]byte, add []entry) []entry {
	if len(old) == 0 {
		return slices.Clip(add)
	}
	out := make([]entry, 0, len(old)-len(del)+len(add))
	for _, e := range old {
		if _, found := slices.BinarySearchFunc(del, e.hash, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }); !found {
			out = append(out, e)
		}
	}
	out = append(out, add...)
	slices.SortFunc(out, compareEntries)
	if len(out) == 0 {
		return nil
	}
	return out
}

// parseFile reads one held file (rel as in Update) into its keys, of
// which it returns those prev does not hold alike. scanFile is the fast
// path; at the first thing it does not take the file is decoded again
// generically and checked by the rules of NewIndex, so that the outcome,
// errors included, is exactly theirs.
func parseFile(prev *Index, rel string, f bundle.HeldFile) (*fileRec, []entry, error) {
	rec := &fileRec{sum: f.Sum, name: f.File}
	es, ok := scanFile(prev, rel, f.Raw, rec)
	if ok {
		slices.Sort(rec.names)
		for i := 1; i < len(rec.names) && ok; i++ {
			ok = rec.names[i] != rec.names[i-1] // a JSON object with a key twice
		}
		sortHashes(rec.hashes)
		for i := 1; i < len(rec.hashes) && ok; i++ {
			ok = rec.hashes[i] != rec.hashes[i-1]
		}
	}
	if ok {
		return rec, es, nil
	}
	es, err := parseGeneric(rel, f)
	if err != nil {
		return nil, nil, err
	}
	rec.names, rec.hashes, rec.fps = rec.names[:0], make([][32]byte, 0, len(es)), nil
	for _, e := range es {
		if rel == "" {
			rec.names = append(rec.names, nameSum(e.cons.name))
		}
		rec.hashes = append(rec.hashes, e.hash)
	}
	slices.Sort(rec.names)
	rec.names = slices.Compact(rec.names)
	sortHashes(rec.hashes)
	return rec, es, nil
}

// parseGeneric reads a file the fast path did not take.
func parseGeneric(rel string, f bundle.HeldFile) ([]entry, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(f.Raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", f.File, err)
	}
	if rel != "" {
		v = map[string]any{rel: v}
	}
	return entriesOf(v)
}
