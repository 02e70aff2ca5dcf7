// Package header decides which request header names mean the same to a
// backend and cleans a request's header set before anything judges it.
package header

import (
	"net/http"
	"slices"
)

// Fold returns the identity of a header name as CGI, WSGI, PHP and Rack
// see it: lower case, with "_" folded to "-" (HTTP_X_USER_ID is X-User-Id,
// X_User_Id and x-user_id alike). Every comparison of header names in the
// gateway goes through Fold or [Equal].
func Fold(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '_' || 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				b[j] = foldByte(b[j])
			}
			return string(b)
		}
	}
	return name
}

func foldByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// Equal reports whether a and b are the same header name to a backend
// (see [Fold]); it does not allocate.
func Equal(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldByte(a[i]) != foldByte(b[i]) {
			return false
		}
	}
	return true
}

// Set is a set of header names compared by [Fold]. Build it once; the zero
// value is empty.
type Set struct {
	m map[string]struct{}
	f *nameFilter
}

// NewSet returns the set of names.
func NewSet(names ...string) Set {
	s := Set{m: make(map[string]struct{}, len(names)), f: new(nameFilter)}
	for _, n := range names {
		s.m[Fold(n)] = struct{}{}
		s.f.add(Fold(n))
	}
	return s
}

// maxStackName is the longest name Has folds without allocating.
const maxStackName = 128

// Has reports whether name, in any spelling, is in s.
func (s Set) Has(name string) bool {
	if len(s.m) == 0 || !s.f.mayHold(name) {
		return false
	}
	if len(name) > maxStackName {
		_, ok := s.m[Fold(name)]
		return ok
	}
	var buf [maxStackName]byte
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		b[i] = foldByte(name[i])
	}
	_, ok := s.m[string(b)] // no allocation: the compiler looks up the bytes
	return ok
}

// Len is the number of names in s.
func (s Set) Len() int { return len(s.m) }

// DeleteFrom removes from h every header whose name, in any spelling, is
// in s, and reports whether it removed any.
func (s Set) DeleteFrom(h http.Header) bool {
	removed := false
	for k := range h {
		if s.Has(k) {
			delete(h, k)
			removed = true
		}
	}
	return removed
}

// Values returns the values of every header of h that is name in any
// spelling, the canonical spelling's first. Without other spellings it is
// h[name] itself, not a copy.
func Values(h http.Header, name string) []string {
	name = http.CanonicalHeaderKey(name)
	v := h[name]
	extra := false
	for k := range h {
		if k != name && Equal(k, name) {
			if !extra {
				v, extra = slices.Clip(v), true
			}
			v = append(v, h[k]...)
		}
	}
	return v
}

// Del removes every spelling of name from h.
func Del(h http.Header, name string) {
	delete(h, http.CanonicalHeaderKey(name))
	for k := range h {
		if Equal(k, name) {
			delete(h, k)
		}
	}
}

// Replace sets name to v in h after removing every other spelling of it,
// so the upstream sees the gateway's value and no second one beside it.
func Replace(h http.Header, name string, v []string) {
	Del(h, name)
	h[http.CanonicalHeaderKey(name)] = v
}
