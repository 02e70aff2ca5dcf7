package engine

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"

	"github.com/portcullis/portcullis/policy"
)

// appendInputKey appends to b the decision cache's key of in: the parts of
// the input document that n says the policy reads, written from the Go
// values in the order inputValue builds them, every string and list
// length-prefixed and every optional part flagged, so that the encoding is
// unambiguous for one n. Requests whose key is equal give the policy equal
// inputs (the converse need not hold: a few equal inputs may have keys of
// their own, which costs a cache entry, never a wrong decision). It is what
// lets a cached decision answer without building the OPA value the policy
// would be given (about 40 allocations a request).
//
// ok is false when in has a part this key does not cover (the OPA-Envoy
// fields, a parsed body the policy reads, a claim of an unexpected Go
// type); the caller then keys by the OPA value (decisionCache.get).
func appendInputKey(b []byte, in *policy.Input, n *inputNeeds) (_ []byte, ok bool) {
	if in.OPAEnvoy {
		return b, false
	}
	// "version" is a constant: it never tells two inputs apart.
	if f := n.field("request"); f != nil {
		if b, ok = appendRequestKey(b, &in.Request, f); !ok {
			return b, false
		}
	}
	if f := n.field("route"); f != nil {
		b = appendRouteKey(b, &in.Route, f)
	}
	if f := n.field("identity"); f != nil {
		if b, ok = appendIdentityKey(b, in.Identity, f); !ok {
			return b, false
		}
	}
	if n.field("validation") != nil {
		v := &in.Validation
		b = appendBool(b, v.Ran)
		if v.Ran {
			b = appendBool(b, v.Valid)
			b = binary.AppendUvarint(b, uint64(len(v.Errors)))
			for _, e := range v.Errors {
				b = appendKeyString(appendKeyString(appendKeyString(b, e.Name), e.In), e.Reason)
			}
		}
	}
	return b, true
}

func appendRequestKey(b []byte, r *policy.Request, f *inputNeeds) ([]byte, bool) {
	for _, s := range [...]struct {
		key, value string
	}{{"id", r.ID}, {"method", r.Method}, {"wire_method", r.WireMethod}, {"path", r.Path}, {"host", r.Host}, {"scheme", r.Scheme}, {"remote_addr", r.RemoteAddr}, {"client_ip", r.ClientIP}} {
		if f.has(s.key) {
			b = appendKeyString(b, s.value)
		}
	}
	if f.has("port") {
		b = binary.AppendVarint(b, int64(r.Port))
	}
	if f.has("segments") {
		b = appendKeyStrings(b, r.Segments)
	}
	if q := f.field("query"); q != nil {
		b = appendMapKey(b, r.Query, q, appendKeyStrings)
	}
	if h := f.field("headers"); h != nil {
		b = appendMapKey(b, r.Headers, h, appendKeyString)
	}
	if f.has("body") && r.Body != nil {
		return b, false
	}
	if f.has("body_truncated") {
		b = appendBool(appendBool(b, r.Body != nil), r.BodyTruncated)
	}
	return b, true
}

func appendRouteKey(b []byte, rt *policy.Route, f *inputNeeds) []byte {
	if f.has("name") {
		b = appendKeyString(b, rt.Name)
	}
	if f.has("operation_id") {
		b = appendKeyString(b, rt.OperationID)
	}
	if p := f.field("path_params"); p != nil {
		b = appendMapKey(b, rt.PathParams, p, appendKeyString)
	}
	if f.has("tags") {
		b = appendKeyStrings(b, rt.Tags)
	}
	return b
}

// appendIdentityKey keys the parts of id that f needs, also for an
// identity with a Memo (whose OPA value is built whole): the policy's
// decision depends on the parts it reads only, as pruning relies on.
func appendIdentityKey(b []byte, id *policy.Identity, f *inputNeeds) ([]byte, bool) {
	if id == nil {
		id = anonymous
	}
	if f.has("authenticated") {
		b = appendBool(b, id.Authenticated)
	}
	for _, s := range [...]struct {
		key, value string
	}{{"method", id.Method}, {"subject", id.Subject}, {"issuer", id.Issuer}, {"consumer", id.Consumer}, {"key_id", id.KeyID}} {
		if f.has(s.key) {
			b = appendKeyString(b, s.value)
		}
	}
	if f.has("groups") {
		b = appendKeyStrings(b, id.Groups)
	}
	if f.has("scopes") {
		b = appendKeyStrings(b, id.Scopes)
	}
	if c := f.field("claims"); c != nil {
		var ok bool
		if b, ok = appendClaimsKey(b, id.Claims, c); !ok {
			return b, false
		}
	}
	if f.has("certificate") {
		c := id.Certificate
		b = appendBool(b, c != nil)
		if c != nil {
			for _, s := range [...]string{c.Subject, c.Issuer, c.Serial, c.FingerprintSHA256} {
				b = appendKeyString(b, s)
			}
			for _, ss := range [...][]string{c.DNSNames, c.URIs, c.Emails} {
				b = appendKeyStrings(b, ss)
			}
			b = binary.AppendVarint(b, c.NotAfter.Unix())
		}
	}
	return b, true
}

var anonymous = policy.Anonymous()

// appendClaimsKey keys the claims c needs: all of them, or the needed
// names, each flagged present or absent.
func appendClaimsKey(b []byte, claims map[string]any, c *inputNeeds) ([]byte, bool) {
	var ok bool
	if c.all {
		return appendJSONKey(b, claims)
	}
	var buf [8]string
	for _, k := range sortedNeeded(buf[:0], c) {
		v, present := claims[k]
		b = appendBool(b, present)
		if present {
			if b, ok = appendJSONKey(b, v); !ok {
				return b, false
			}
		}
	}
	return b, true
}

// Type tags of appendJSONKey.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagString
	tagNumber // json.Number, as written
	tagFloat  // float64, by its bits
	tagInt
	tagArray
	tagStrings
	tagObject
)

// appendJSONKey keys a JSON-like Go value (a claim) by type and content;
// ok is false for any other type.
func appendJSONKey(b []byte, x any) ([]byte, bool) {
	var ok bool
	switch v := x.(type) {
	case nil:
		return append(b, tagNull), true
	case bool:
		if v {
			return append(b, tagTrue), true
		}
		return append(b, tagFalse), true
	case string:
		return appendKeyString(append(b, tagString), v), true
	case json.Number:
		return appendKeyString(append(b, tagNumber), string(v)), true
	case float64:
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(v)), true
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(v)), true
	case int64:
		return binary.AppendVarint(append(b, tagInt), v), true
	case []string:
		return appendKeyStrings(append(b, tagStrings), v), true
	case []any:
		b = binary.AppendUvarint(append(b, tagArray), uint64(len(v)))
		for _, e := range v {
			if b, ok = appendJSONKey(b, e); !ok {
				return b, false
			}
		}
		return b, true
	case map[string]any:
		b = binary.AppendUvarint(append(b, tagObject), uint64(len(v)))
		var buf [16]string
		for _, k := range sortedMapKeys(buf[:0], v) {
			if b, ok = appendJSONKey(appendKeyString(b, k), v[k]); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}

// appendMapKey keys m, or the keys of it that n needs (those m lacks
// count as absent), in sorted order.
func appendMapKey[V any](b []byte, m map[string]V, n *inputNeeds, value func([]byte, V) []byte) []byte {
	var buf [16]string
	if n.all {
		keys := sortedMapKeys(buf[:0], m)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = value(appendKeyString(b, k), m[k])
		}
		return b
	}
	for _, k := range sortedNeeded(buf[:0], n) {
		v, present := m[k]
		b = appendBool(b, present)
		if present {
			b = value(b, v)
		}
	}
	return b
}

// sortedMapKeys returns m's keys, sorted, in buf when they fit.
func sortedMapKeys[V any](buf []string, m map[string]V) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// sortedNeeded returns the keys n needs, sorted, in buf when they fit.
func sortedNeeded(buf []string, n *inputNeeds) []string {
	return sortedMapKeys(buf, n.keys)
}

func appendKeyString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendKeyStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendKeyString(b, s)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}
