package engine

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"

	"github.com/portcullis/portcullis/policy"
)

// keyPlan is how appendKey writes the decision cache's key for one
// policy generation: what its needs (inputNeeds) say the policy reads,
// looked up once when the generation is built instead of in the needs'
// maps for every part of every request.
type keyPlan struct {
	request    *requestPlan // nil: not read
	route      *routePlan
	identity   *identityPlan
	validation bool
}

type requestPlan struct {
	strings             [len(requestStrings)]bool
	port, segments      bool
	query, headers      *mapPlan
	body, bodyTruncated bool
}

type routePlan struct {
	name, operationID, tags bool
	pathParams              *mapPlan
}

type identityPlan struct {
	authenticated               bool
	strings                     [len(identityStrings)]bool
	groups, scopes, certificate bool
	claims                      *mapPlan
}

// mapPlan keys a map: all of it, or the names (sorted) of it that are read.
type mapPlan struct {
	all   bool
	names []string
}

// The string fields of policy.Request and policy.Identity, in the order the
// key writes them (see appendKey).
var (
	requestStrings  = [...]string{"id", "method", "wire_method", "path", "host", "scheme", "remote_addr", "client_ip"}
	identityStrings = [...]string{"method", "subject", "issuer", "consumer", "key_id"}
)

// newKeyPlan returns the plan of n (nil: the whole document).
func newKeyPlan(n *inputNeeds) *keyPlan {
	p := &keyPlan{validation: n.has("validation")}
	if f := n.field("request"); f != nil {
		r := &requestPlan{port: f.has("port"), segments: f.has("segments"), query: newMapPlan(f.field("query")),
			headers: newMapPlan(f.field("headers")), body: f.has("body"), bodyTruncated: f.has("body_truncated")}
		for i, k := range requestStrings {
			r.strings[i] = f.has(k)
		}
		p.request = r
	}
	if f := n.field("route"); f != nil {
		p.route = &routePlan{name: f.has("name"), operationID: f.has("operation_id"), tags: f.has("tags"), pathParams: newMapPlan(f.field("path_params"))}
	}
	if f := n.field("identity"); f != nil {
		id := &identityPlan{authenticated: f.has("authenticated"), groups: f.has("groups"), scopes: f.has("scopes"),
			certificate: f.has("certificate"), claims: newMapPlan(f.field("claims"))}
		for i, k := range identityStrings {
			id.strings[i] = f.has(k)
		}
		p.identity = id
	}
	return p
}

func newMapPlan(n *inputNeeds) *mapPlan {
	if n == nil {
		return nil
	}
	if n.all {
		return &mapPlan{all: true}
	}
	return &mapPlan{names: sortedMapKeys(nil, n.keys)}
}

// appendKey appends to b the decision cache's key of in: the parts of the
// input document that the plan's needs say the policy reads, written from
// the Go values in the order inputValue builds them, every string and list
// length-prefixed and every optional part flagged, so that the encoding is
// unambiguous for one plan. Requests whose key is equal give the policy
// equal inputs (the converse need not hold: a few equal inputs may have
// keys of their own, which costs a cache entry, never a wrong decision). It
// is what lets a cached decision answer without building the OPA value the
// policy would be given (about 40 allocations a request).
//
// ok is false when in has a part this key does not cover (the OPA-Envoy
// fields, a parsed body the policy reads, a claim of an unexpected Go
// type); the caller then keys by the OPA value (decisionCache.get).
func (p *keyPlan) appendKey(b []byte, in *policy.Input) (_ []byte, ok bool) {
	if in.OPAEnvoy {
		return b, false
	}
	// "version" is a constant: it never tells two inputs apart.
	if p.request != nil {
		if b, ok = p.request.appendKey(b, &in.Request); !ok {
			return b, false
		}
	}
	if p.route != nil {
		b = p.route.appendKey(b, &in.Route)
	}
	if p.identity != nil {
		if b, ok = p.identity.appendKey(b, in.Identity); !ok {
			return b, false
		}
	}
	if p.validation {
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

func (p *requestPlan) appendKey(b []byte, r *policy.Request) ([]byte, bool) {
	for i, v := range [len(requestStrings)]string{r.ID, r.Method, r.WireMethod, r.Path, r.Host, r.Scheme, r.RemoteAddr, r.ClientIP} {
		if p.strings[i] {
			b = appendKeyString(b, v)
		}
	}
	if p.port {
		b = binary.AppendVarint(b, int64(r.Port))
	}
	if p.segments {
		b = appendKeyStrings(b, r.Segments)
	}
	if p.query != nil {
		b = appendMapKey(b, r.Query, p.query, appendKeyStrings)
	}
	if p.headers != nil {
		b = appendMapKey(b, r.Headers, p.headers, appendKeyString)
	}
	if p.body && r.Body != nil {
		return b, false
	}
	if p.bodyTruncated {
		b = appendBool(appendBool(b, r.Body != nil), r.BodyTruncated)
	}
	return b, true
}

func (p *routePlan) appendKey(b []byte, rt *policy.Route) []byte {
	if p.name {
		b = appendKeyString(b, rt.Name)
	}
	if p.operationID {
		b = appendKeyString(b, rt.OperationID)
	}
	if p.pathParams != nil {
		b = appendMapKey(b, rt.PathParams, p.pathParams, appendKeyString)
	}
	if p.tags {
		b = appendKeyStrings(b, rt.Tags)
	}
	return b
}

// appendKey keys the parts of id that p reads, also for an identity with
// a Memo (whose OPA value is built whole): the policy's decision depends
// on the parts it reads only, as pruning relies on.
func (p *identityPlan) appendKey(b []byte, id *policy.Identity) ([]byte, bool) {
	if id == nil {
		id = anonymous
	}
	if p.authenticated {
		b = appendBool(b, id.Authenticated)
	}
	for i, v := range [len(identityStrings)]string{id.Method, id.Subject, id.Issuer, id.Consumer, id.KeyID} {
		if p.strings[i] {
			b = appendKeyString(b, v)
		}
	}
	if p.groups {
		b = appendKeyStrings(b, id.Groups)
	}
	if p.scopes {
		b = appendKeyStrings(b, id.Scopes)
	}
	if p.claims != nil {
		var ok bool
		if b, ok = appendClaimsKey(b, id.Claims, p.claims); !ok {
			return b, false
		}
	}
	if p.certificate {
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

// appendClaimsKey keys the claims c reads: all of them, or the read
// names, each flagged present or absent.
func appendClaimsKey(b []byte, claims map[string]any, c *mapPlan) ([]byte, bool) {
	var ok bool
	if c.all {
		return appendJSONKey(b, claims)
	}
	for _, k := range c.names {
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

// appendMapKey keys m, or the names of it that p reads (those m lacks
// count as absent), in sorted order.
func appendMapKey[V any](b []byte, m map[string]V, p *mapPlan, value func([]byte, V) []byte) []byte {
	if p.all {
		var buf [16]string
		keys := sortedMapKeys(buf[:0], m)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = value(appendKeyString(b, k), m[k])
		}
		return b
	}
	for _, k := range p.names {
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
