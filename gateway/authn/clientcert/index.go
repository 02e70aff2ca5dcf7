package clientcert

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// FingerprintPrefix starts a fingerprint key of the mapping table.
const FingerprintPrefix = "sha256:"

// Mapping is what a certificate authenticates as.
type Mapping struct {
	// Key is the table key that matched: the fingerprint or the URI SAN.
	// It is not secret and is logged as the identity's key_id.
	Key      string
	Consumer string
	Groups   []string
}

// Index maps certificates to consumers. It is immutable once built, so it
// is shared by concurrent requests and swapped whole with a bundle.
type Index struct {
	byFingerprint map[[32]byte]*Mapping
	byURI         map[string]*Mapping
}

// Len returns the number of entries.
func (x *Index) Len() int { return len(x.byFingerprint) + len(x.byURI) }

// entryFields are the fields an entry may have. Unknown fields are errors:
// a misspelt "groups" must not silently drop a consumer's groups.
var entryFields = []string{"consumer", "groups"}

// NewIndex builds an index from the client_certs object of bundle data:
//
//	{"sha256:<64 hex>": {"consumer": "...", "groups": ["..."]},
//	 "spiffe://prod.example/ns/billing/sa/api": {"consumer": "..."}}
//
// A key is either the SHA-256 fingerprint of one certificate (hex in any
// case) or an absolute URI, matched exactly against the certificate's URI
// SANs (a SPIFFE ID names every certificate the CA issues for a workload).
// Subjects are not keys: one name can be written in several ways, and a
// mapping must match one way only. data is decoded JSON; nil (the data
// path is absent) gives an empty index, which revokes every certificate.
// Errors name the key and field, in sorted key order.
func NewIndex(data any) (*Index, error) {
	x := &Index{byFingerprint: map[[32]byte]*Mapping{}, byURI: map[string]*Mapping{}}
	if data == nil {
		return x, nil
	}
	table, ok := data.(map[string]any)
	if !ok {
		return nil, errors.New("client_certs: want an object")
	}
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		p := fmt.Sprintf("client_certs[%q]", k)
		m, err := parseEntry(p, table[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Key = k
		if len(k) >= len(FingerprintPrefix) && strings.EqualFold(k[:len(FingerprintPrefix)], FingerprintPrefix) {
			hx := k[len(FingerprintPrefix):]
			var fp [32]byte
			if k[:len(FingerprintPrefix)] != FingerprintPrefix || len(hx) != 64 || !decodeHex(fp[:], hx) {
				errs = append(errs, fmt.Errorf("%s: a fingerprint key wants %q and 64 hex digits", p, FingerprintPrefix))
				continue
			}
			if prev, dup := x.byFingerprint[fp]; dup {
				errs = append(errs, fmt.Errorf("%s: same fingerprint as %q", p, prev.Key))
				continue
			}
			x.byFingerprint[fp] = m
			continue
		}
		if u, err := url.Parse(k); err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Errorf("%s: want %q and 64 hex digits, or an absolute URI such as spiffe://trust.domain/workload", p, FingerprintPrefix))
			continue
		}
		x.byURI[k] = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return x, nil
}

func parseEntry(p string, v any) (*Mapping, error) {
	e, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object", p)
	}
	var errs []error
	for f := range e {
		if !slices.Contains(entryFields, f) {
			errs = append(errs, fmt.Errorf("%s.%s: unknown field (want %s)", p, f, strings.Join(entryFields, ", ")))
		}
	}
	m := &Mapping{}
	if c, ok := e["consumer"].(string); ok && c != "" {
		m.Consumer = c
	} else {
		errs = append(errs, fmt.Errorf("%s.consumer: want a non-empty string", p))
	}
	switch g := e["groups"].(type) {
	case nil:
	case []any:
		for i, v := range g {
			s, ok := v.(string)
			if !ok || s == "" {
				errs = append(errs, fmt.Errorf("%s.groups[%d]: want a non-empty string", p, i))
				continue
			}
			m.Groups = append(m.Groups, s)
		}
	default:
		errs = append(errs, fmt.Errorf("%s.groups: want an array of strings", p))
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// lookup finds the mapping of a certificate: its fingerprint first (one
// certificate is more specific than every certificate of a workload), then
// its URI SANs in the certificate's order.
func (x *Index) lookup(fp [32]byte, uris []string) *Mapping {
	if m := x.byFingerprint[fp]; m != nil {
		return m
	}
	for _, u := range uris {
		if m := x.byURI[u]; m != nil {
			return m
		}
	}
	return nil
}

func decodeHex(dst []byte, s string) bool {
	n, err := hex.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}
