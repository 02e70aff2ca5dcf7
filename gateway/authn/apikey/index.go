package apikey

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// Key is one API key of a consumer, as the index holds it: never the key
// itself, only what its hash maps to.
type Key struct {
	Consumer string
	Groups   []string
	// ID is the key's configured id, safe to log.
	ID string
	// NotBefore and ExpiresAt bound the key's validity; zero means unbounded.
	NotBefore time.Time
	ExpiresAt time.Time

	memo *policy.Memo // shared by the identities of this key
}

// Index maps key hashes to keys. It is immutable once built, so it can be
// shared by concurrent requests and swapped whole when a bundle is loaded.
type Index struct {
	byHash map[[32]byte]*Key
}

// Len returns the number of keys in the index.
func (x *Index) Len() int { return len(x.byHash) }

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
// empty index, so a bundle without consumers revokes every key.
func NewIndex(data any) (*Index, error) {
	x := &Index{byHash: map[[32]byte]*Key{}}
	if data == nil {
		return x, nil
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
	owner := map[[32]byte]string{}
	for _, name := range names {
		errs = append(errs, x.addConsumer(name, consumers[name], owner)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return x, nil
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

func (x *Index) addConsumer(name string, v any, owner map[[32]byte]string) []error {
	p := []any{name}
	if name == "" {
		return []error{at(p, "consumer name is empty")}
	}
	c, ok := v.(map[string]any)
	if !ok {
		return []error{at(p, "want an object, got %s", typeName(v))}
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
	ids := map[string]bool{}
	for i, kv := range keys {
		kp := append(slices.Clone(p), "keys", i)
		k, hash, kerrs := parseKey(kp, kv)
		if len(kerrs) > 0 {
			errs = append(errs, kerrs...)
			continue
		}
		if ids[k.ID] {
			errs = append(errs, at(append(kp, "id"), "%q is used twice by this consumer", k.ID))
			continue
		}
		ids[k.ID] = true
		if prev, dup := owner[hash]; dup {
			errs = append(errs, at(append(kp, "hash"), "same hash as %s", prev))
			continue
		}
		owner[hash] = fmt.Sprintf("%s (id %q)", dataPath(kp), k.ID)
		k.Consumer = name
		k.Groups = groups
		x.byHash[hash] = k
	}
	return errs
}

func parseKey(p []any, v any) (*Key, [32]byte, []error) {
	var hash [32]byte
	m, ok := v.(map[string]any)
	if !ok {
		return nil, hash, []error{at(p, "want an object, got %s", typeName(v))}
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
	k := &Key{memo: new(policy.Memo)}
	if id, ok := m["id"].(string); ok && id != "" {
		k.ID = id
	} else {
		errs = append(errs, at(append(p, "id"), "want a non-empty string"))
	}
	h, _ := m["hash"].(string)
	if hx, ok := strings.CutPrefix(h, HashPrefix); !ok || len(hx) != 64 || !decodeHex(hash[:], hx) {
		// The value is not echoed: it is not secret, but it is noise.
		errs = append(errs, at(append(p, "hash"), "want %q and 64 hex digits", HashPrefix))
	}
	var err error
	if k.NotBefore, err = parseTime(m["not_before"]); err != nil {
		errs = append(errs, at(append(p, "not_before"), "%v", err))
	}
	if k.ExpiresAt, err = parseTime(m["expires_at"]); err != nil {
		errs = append(errs, at(append(p, "expires_at"), "%v", err))
	}
	if !k.NotBefore.IsZero() && !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(k.NotBefore) {
		errs = append(errs, at(append(p, "expires_at"), "is not after not_before"))
	}
	return k, hash, errs
}

func decodeHex(dst []byte, s string) bool {
	n, err := hex.Decode(dst, []byte(s))
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
