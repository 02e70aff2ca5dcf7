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

// revocations are keys refused although the key set still holds them: a
// short list beside the big key file, so that revoking a key is a change
// to a small file and a reload that skips the key file by its SHA-256.
// An entry names a key by its hash, or by its consumer and id. An entry
// that matches no key is allowed and silent: revoking first and removing
// the key from the key set later is the normal order, and the list then
// keeps entries whose keys are gone.
type revocations struct {
	hashes map[[32]byte]struct{}
	ids    map[keyRef]struct{}
	// sums are the SHA-256 of the list's files, to reuse the list when
	// they are unchanged.
	sums [][32]byte
}

type keyRef struct{ consumer, id string }

// has reports whether k is revoked. nil revokes nothing, at the cost of a
// nil check on the request path.
func (r *revocations) has(k *entry) bool {
	if r == nil {
		return false
	}
	if _, ok := r.hashes[k.hash]; ok {
		return true
	}
	_, ok := r.ids[keyRef{k.cons.name, k.id}]
	return ok
}

// len is the number of entries.
func (r *revocations) len() int {
	if r == nil {
		return 0
	}
	return len(r.hashes) + len(r.ids)
}

// revokedFields are the fields of a list entry; unknown ones are errors,
// like a key's: a misspelt "hash" must not silently revoke nothing.
var revokedFields = []string{"hash", "consumer", "id", "reason"}

// RevocationError is a problem with one entry of the revocation list.
// Index is the entry's position in its file's array (-1 for the list
// itself) and Field the field (or ""), so a caller can point at its line.
type RevocationError struct {
	File  string
	Index int
	Field string
	Err   error
}

func (e *RevocationError) Error() string {
	var b strings.Builder
	b.WriteString("revoked_api_keys")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "[%d]", e.Index)
	}
	if e.Field != "" {
		b.WriteString("." + e.Field)
	}
	return b.String() + ": " + e.Err.Error()
}

func (e *RevocationError) Unwrap() error { return e.Err }

// Path is the entry's path from the list (an int index, then the field),
// for bundle.LocateValue.
func (e *RevocationError) Path() []any {
	var p []any
	if e.Index >= 0 {
		p = append(p, e.Index)
	}
	if e.Field != "" {
		p = append(p, e.Field)
	}
	return p
}

// revocationsOf reads the revocation list from its held files (those at
// base; one deeper is refused), reusing prev when no file changed.
func revocationsOf(prev *revocations, base []string, files []bundle.HeldFile) (*revocations, error) {
	if len(files) == 0 {
		return nil, nil
	}
	sums := make([][32]byte, len(files))
	for i, f := range files {
		sums[i] = f.Sum
		if len(f.Path) != len(base) {
			return nil, fmt.Errorf("%s: revocation list below data.%s: put the list in one data.json at %s",
				f.File, strings.Join(base, "."), strings.Join(base, "/"))
		}
	}
	if prev != nil && slices.Equal(prev.sums, sums) {
		return prev, nil
	}
	r := &revocations{hashes: map[[32]byte]struct{}{}, ids: map[keyRef]struct{}{}, sums: sums}
	var errs []error
	for _, f := range files {
		errs = append(errs, r.read(f)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// read adds the entries of one file of the list to r.
func (r *revocations) read(f bundle.HeldFile) []error {
	if err := f.Check(); err != nil {
		return []error{err}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(f.Raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []error{fmt.Errorf("%s: %w", f.File, err)}
	}
	if v == nil {
		return nil // null: no entries
	}
	list, ok := v.([]any)
	if !ok {
		return []error{&RevocationError{File: f.File, Index: -1, Err: fmt.Errorf("want an array, got %s", typeName(v))}}
	}
	var errs []error
	bad := func(i int, field, format string, args ...any) {
		errs = append(errs, &RevocationError{File: f.File, Index: i, Field: field, Err: fmt.Errorf(format, args...)})
	}
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			bad(i, "", "want an object, got %s", typeName(item))
			continue
		}
		before := len(errs)
		fields := make([]string, 0, len(obj))
		for name := range obj {
			fields = append(fields, name)
		}
		slices.Sort(fields) // deterministic error order
		str := map[string]string{}
		for _, name := range fields {
			if !slices.Contains(revokedFields, name) {
				bad(i, name, "unknown field (want %s)", strings.Join(revokedFields, ", "))
				continue
			}
			s, ok := obj[name].(string)
			if !ok {
				bad(i, name, "want a string, got %s", typeName(obj[name]))
				continue
			}
			str[name] = s
		}
		if len(errs) > before {
			continue // a misspelt field: not also "needs both consumer and id"
		}
		_, hasHash := obj["hash"]
		_, hasConsumer := obj["consumer"]
		_, hasID := obj["id"]
		switch {
		case hasHash && (hasConsumer || hasID):
			bad(i, "", "name a key by hash or by consumer and id, not both")
		case hasHash:
			var sum [32]byte
			if h, ok := str["hash"]; ok {
				if hx, ok := strings.CutPrefix(h, HashPrefix); !ok || len(hx) != 64 || !decodeHex(sum[:], []byte(hx)) {
					bad(i, "hash", "want %q and 64 hex digits", HashPrefix) // as for a key
					continue
				}
				r.hashes[sum] = struct{}{}
			}
		case !hasConsumer && !hasID:
			bad(i, "", "name a key by hash, or by consumer and id")
		case !hasConsumer || !hasID:
			bad(i, "", "a key named by consumer needs both consumer and id")
		default:
			c, okc := str["consumer"]
			id, oki := str["id"]
			if okc && oki && (c == "" || id == "") {
				bad(i, "", "consumer and id must not be empty")
			} else if okc && oki {
				r.ids[keyRef{c, id}] = struct{}{}
			}
		}
	}
	return errs
}
