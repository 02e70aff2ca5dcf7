package apikey

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// entry is one API key as the index holds it: never the key itself, only
// what its hash maps to. Entries are values in sorted bucket arrays, not
// one heap object each; the consumer's name and groups are shared by all
// its keys.
type entry struct {
	hash [32]byte
	// nbf and exp bound the key's validity in Unix seconds: valid when
	// nbf <= now < exp. Unbounded is math.MinInt64 and math.MaxInt64.
	nbf, exp int64
	cons     *consumer
	// id is the key's configured id, safe to log.
	id string
}

// consumer is what the keys of one consumer share.
type consumer struct {
	name   string
	groups []string
}

// same reports whether e and o authenticate alike (o may come from
// another parse, with its own consumer).
func (e *entry) same(o *entry) bool {
	return e.hash == o.hash && e.nbf == o.nbf && e.exp == o.exp && e.id == o.id &&
		e.cons.name == o.cons.name && slices.Equal(e.cons.groups, o.cons.groups)
}

// bucketBits sets the number of hash buckets: 16 384. At 1 M keys a bucket
// holds ~61 entries (4 KB), which is what a changed key copies; the bucket
// table, which every changed index copies, is 384 KB.
const bucketBits = 14

func bucketOf(h *[32]byte) int { return int(h[0])<<(bucketBits-8) | int(h[1]>>(16-bucketBits)) }

// Index maps key hashes to keys. It is immutable once built, so it can be
// shared by concurrent requests and swapped whole when a bundle is loaded.
// An index made by Update shares every unchanged bucket with its
// predecessor, which stays valid (see Update).
type Index struct {
	// buckets has 1<<bucketBits arrays, each sorted by hash; nil when empty.
	buckets [][]entry
	n       int
	// files are the data files the index was made from, by their
	// position below the consumers object (see Update); nil for NewIndex.
	files map[string]*fileRec
	// revoked are the keys refused although they are in buckets.
	revoked *revocations
}

// Len returns the number of keys in the index.
func (x *Index) Len() int { return x.n }

// lookup finds the key whose SHA-256 is h. It allocates nothing.
func (x *Index) lookup(h *[32]byte) (*entry, bool) {
	if x.n == 0 {
		return nil, false
	}
	b := x.buckets[bucketOf(h)]
	lo, hi := 0, len(b)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := compareHash(&b[m].hash, h); {
		case c == 0:
			return &b[m], true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil, false
}

// fromEntries builds a whole index; es must not hold a hash twice.
func fromEntries(es []entry, files map[string]*fileRec) *Index {
	x := &Index{n: len(es), files: files}
	if len(es) == 0 {
		return x
	}
	sortEntries(es)
	x.buckets = make([][]entry, 1<<bucketBits)
	for i := 0; i < len(es); {
		j, b := i+1, bucketOf(&es[i].hash)
		for j < len(es) && bucketOf(&es[j].hash) == b {
			j++
		}
		x.buckets[b] = slices.Clip(es[i:j])
		i = j
	}
	return x
}

// sortEntries and sortHashes sort by hash: by bucket first, a counting
// sort, then each bucket's few items (3x faster at 1 M than one sort).
func sortEntries(es []entry) {
	sortByHash(es, func(e *entry) *[32]byte { return &e.hash }, compareEntries)
}

func sortHashes(hs [][32]byte) {
	sortByHash(hs, func(h *[32]byte) *[32]byte { return h }, func(a, b [32]byte) int { return compareHash(&a, &b) })
}

func sortByHash[T any](s []T, hash func(*T) *[32]byte, cmp func(a, b T) int) {
	if slices.IsSortedFunc(s, cmp) {
		return // the hashes of a file parsed before
	}
	if len(s) < 1<<bucketBits {
		slices.SortFunc(s, cmp)
		return
	}
	var ends [1<<bucketBits + 1]int
	for i := range s {
		ends[bucketOf(hash(&s[i]))+1]++
	}
	for b := 1; b < len(ends); b++ {
		ends[b] += ends[b-1]
	}
	next := ends
	out := make([]T, len(s))
	for i := range s {
		b := bucketOf(hash(&s[i]))
		out[next[b]] = s[i]
		next[b]++
	}
	for b := 0; b < 1<<bucketBits; b++ {
		slices.SortFunc(out[ends[b]:ends[b+1]], cmp)
	}
	copy(s, out)
}

func compareEntries(a, b entry) int { return compareHash(&a.hash, &b.hash) }

// compareHash is bytes.Compare for hashes, a word at a time.
func compareHash(a, b *[32]byte) int {
	for i := 0; i < 32; i += 8 {
		x, y := binary.BigEndian.Uint64(a[i:]), binary.BigEndian.Uint64(b[i:])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// keyFields are the fields a key object may have. Unknown fields are errors:
// a misspelt "expires_at" must not silently make a key valid forever.
var keyFields = []string{"id", "hash", "not_before", "expires_at"}

// NewIndex builds an index from the consumers object found in bundle data:
//
//	{"<consumer>": {"groups": ["..."], "keys": [{"id": "...", "hash": "sha256:<64 hex>",
//	                "not_before": "<RFC 3339>", "expires_at": "<RFC 3339>"}]}}
//
// data is decoded JSON (map[string]any, []any, string, json.Number or
// float64). groups, keys, not_before and expires_at are optional; times
// may also be numbers of Unix seconds. Errors name the consumer and field.
// A hash used twice, even by one consumer, is an error, as is a key id used
// twice by one consumer. A nil data (the data path is absent) gives an
// empty index, so a bundle without consumers revokes every key. The
// gateway reads raw bundle files with Update instead; both apply the same
// rules.
func NewIndex(data any) (*Index, error) {
	es, err := entriesOf(data)
	if err != nil {
		return nil, err
	}
	return fromEntries(es, nil), nil
}

// entriesOf validates decoded consumer data and returns its keys.
func entriesOf(data any) ([]entry, error) {
	if data == nil {
		return nil, nil
	}
	consumers, ok := data.(map[string]any)
	if !ok {
		return nil, &DataError{Err: fmt.Errorf("want an object, got %s", typeName(data))}
	}
	names := make([]string, 0, len(consumers))
	for name := range consumers {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic error order
	var errs []error
	var es []entry
	owner := map[[32]byte]string{}
	for _, name := range names {
		var cerrs []error
		es, cerrs = addConsumer(es, name, consumers[name], owner)
		errs = append(errs, cerrs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return es, nil
}

// DataError is a problem with one value of the consumer data. Path leads
// to it from the consumers object (consumer names and field names as
// strings, array indexes as ints), so that a caller can point at the line
// of the file the value came from.
type DataError struct {
	Path []any
	Err  error
}

func (e *DataError) Error() string { return dataPath(e.Path) + ": " + e.Err.Error() }

func (e *DataError) Unwrap() error { return e.Err }

// dataPath writes path the way config errors write field paths:
// consumers["name"].keys[0].hash.
func dataPath(path []any) string {
	var b strings.Builder
	b.WriteString("consumers")
	for i, p := range path {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if i == 0 {
				fmt.Fprintf(&b, "[%q]", v)
			} else {
				b.WriteString("." + v)
			}
		}
	}
	return b.String()
}

// at is the DataError at path (which it copies).
func at(path []any, format string, args ...any) error {
	return &DataError{Path: slices.Clone(path), Err: fmt.Errorf(format, args...)}
}

func addConsumer(es []entry, name string, v any, owner map[[32]byte]string) ([]entry, []error) {
	p := []any{name}
	if name == "" {
		return es, []error{at(p, "consumer name is empty")}
	}
	c, ok := v.(map[string]any)
	if !ok {
		return es, []error{at(p, "want an object, got %s", typeName(v))}
	}
	var errs []error
	groups, bad, err := stringList(c["groups"])
	if err != nil {
		gp := append(p, "groups")
		if bad >= 0 {
			gp = append(gp, bad)
		}
		errs = append(errs, at(gp, "%v", err))
	}
	var keys []any
	switch kv := c["keys"].(type) {
	case nil:
	case []any:
		keys = kv
	default:
		errs = append(errs, at(append(p, "keys"), "want an array, got %s", typeName(kv)))
	}
	cons := &consumer{name: name, groups: groups}
	ids := map[string]bool{}
	for i, kv := range keys {
		kp := append(slices.Clone(p), "keys", i)
		k, kerrs := parseKey(kp, kv)
		if len(kerrs) > 0 {
			errs = append(errs, kerrs...)
			continue
		}
		if ids[k.id] {
			errs = append(errs, at(append(kp, "id"), "%q is used twice by this consumer", k.id))
			continue
		}
		ids[k.id] = true
		if prev, dup := owner[k.hash]; dup {
			errs = append(errs, at(append(kp, "hash"), "same hash as %s", prev))
			continue
		}
		owner[k.hash] = fmt.Sprintf("%s (id %q)", dataPath(kp), k.id)
		k.cons = cons
		es = append(es, k)
	}
	return es, errs
}

func parseKey(p []any, v any) (entry, []error) {
	m, ok := v.(map[string]any)
	if !ok {
		return entry{}, []error{at(p, "want an object, got %s", typeName(v))}
	}
	var errs []error
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	slices.Sort(fields) // deterministic error order
	for _, f := range fields {
		if !slices.Contains(keyFields, f) {
			errs = append(errs, at(append(p, f), "unknown field (want %s)", strings.Join(keyFields, ", ")))
		}
	}
	id, _ := m["id"].(string)
	h, _ := m["hash"].(string)
	k, kerrs := newEntry(p, id, []byte(h), m["not_before"], m["expires_at"])
	return k, append(errs, kerrs...)
}

// newEntry checks the values of one key; p is its path, for errors.
func newEntry(p []any, id string, hash []byte, notBefore, expiresAt any) (entry, []error) {
	k := entry{id: id, nbf: math.MinInt64, exp: math.MaxInt64}
	var errs []error
	if id == "" {
		errs = append(errs, at(append(p, "id"), "want a non-empty string"))
	}
	if hx, ok := bytes.CutPrefix(hash, []byte(HashPrefix)); !ok || len(hx) != 64 || !decodeHex(k.hash[:], hx) {
		// The value is not echoed: it is not secret, but it is noise.
		errs = append(errs, at(append(p, "hash"), "want %q and 64 hex digits", HashPrefix))
	}
	nbf, err := parseTime(notBefore)
	if err != nil {
		errs = append(errs, at(append(p, "not_before"), "%v", err))
	} else if !nbf.IsZero() {
		// Whole seconds, rounded so that the key is valid no earlier.
		k.nbf = nbf.Unix()
		if nbf.Nanosecond() != 0 {
			k.nbf++
		}
	}
	exp, err := parseTime(expiresAt)
	if err != nil {
		errs = append(errs, at(append(p, "expires_at"), "%v", err))
	} else if !exp.IsZero() {
		k.exp = exp.Unix() // rounded down: valid no later
	}
	if !nbf.IsZero() && !exp.IsZero() && !exp.After(nbf) {
		errs = append(errs, at(append(p, "expires_at"), "is not after not_before"))
	}
	return k, errs
}

func decodeHex(dst, s []byte) bool {
	n, err := hex.Decode(dst, s)
	return err == nil && n == len(dst)
}

// stringList reads an array of non-empty strings; on error, bad is the
// index of the offending item (-1 when v is not an array).
func stringList(v any) (out []string, bad int, err error) {
	if v == nil {
		return nil, -1, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, -1, fmt.Errorf("want an array of strings, got %s", typeName(v))
	}
	out = make([]string, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, i, fmt.Errorf("want a non-empty string, got %s", typeName(e))
		}
		out[i] = s
	}
	return out, -1, nil
}

// parseTime reads an RFC 3339 string or a number of Unix seconds; nil is the zero time.
func parseTime(v any) (time.Time, error) {
	var sec float64
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case string:
		ts, err := time.Parse(time.RFC3339, t)
		if err != nil {
			return time.Time{}, errors.New("want an RFC 3339 time such as 2026-04-01T00:00:00Z")
		}
		return ts, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return time.Time{}, fmt.Errorf("want RFC 3339 or Unix seconds, got number %q", t)
		}
		sec = f
	case float64:
		sec = t
	case int:
		sec = float64(t)
	case int64:
		sec = float64(t)
	default:
		return time.Time{}, fmt.Errorf("want RFC 3339 or Unix seconds, got %s", typeName(v))
	}
	// Bound to years 1970..9999 so the conversion cannot overflow.
	if math.IsNaN(sec) || sec < 0 || sec > 253402300799 {
		return time.Time{}, errors.New("Unix seconds out of range")
	}
	return time.Unix(int64(sec), 0).UTC(), nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number, float64, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}
