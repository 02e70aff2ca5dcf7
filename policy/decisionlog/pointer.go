package decisionlog

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrPointer reports a JSON pointer that cannot be used to erase or mask:
// not RFC 6901 syntax, or not under /input or /result.
var ErrPointer = errors.New("invalid json pointer")

// Roots a pointer may start with, as in OPA's data.system.log.mask.
const (
	rootInput  = "input"
	rootResult = "result"
)

// pointer is a parsed RFC 6901 JSON pointer into an event's input or result.
type pointer struct {
	raw   string   // as written, recorded in erased/masked
	root  string   // rootInput or rootResult
	parts []string // unescaped reference tokens below the root
}

// parsePointer parses s, which must be "/input" or "/result" optionally
// followed by more reference tokens ("~1" is "/", "~0" is "~").
func parsePointer(s string) (pointer, error) {
	if !strings.HasPrefix(s, "/") {
		return pointer{}, fmt.Errorf("%w %q: must start with /", ErrPointer, s)
	}
	toks := strings.Split(s[1:], "/")
	for i, t := range toks {
		u, err := unescapeToken(t)
		if err != nil {
			return pointer{}, fmt.Errorf("%w %q: %v", ErrPointer, s, err)
		}
		toks[i] = u
	}
	if toks[0] != rootInput && toks[0] != rootResult {
		return pointer{}, fmt.Errorf("%w %q: must be under /input or /result", ErrPointer, s)
	}
	return pointer{raw: s, root: toks[0], parts: toks[1:]}, nil
}

func unescapeToken(t string) (string, error) {
	if !strings.Contains(t, "~") {
		return t, nil
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '~' {
			b.WriteByte(t[i])
			continue
		}
		if i+1 == len(t) || (t[i+1] != '0' && t[i+1] != '1') {
			return "", errors.New(`"~" must be followed by 0 or 1`)
		}
		if t[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		i++
	}
	return b.String(), nil
}

// index parses an array index token: decimal digits without a leading zero.
func index(tok string, n int) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// remove deletes the value at parts inside *doc and reports whether it was
// there. *doc must be a JSON document of map[string]any and []any (see
// [toJSON]); removing an array element shifts the rest down, as in OPA.
func remove(doc *any, parts []string) bool {
	if len(parts) == 0 {
		if *doc == nil {
			return false
		}
		*doc = nil
		return true
	}
	switch v := (*doc).(type) {
	case map[string]any:
		child, ok := v[parts[0]]
		if !ok {
			return false
		}
		if len(parts) == 1 {
			delete(v, parts[0])
			return true
		}
		found := remove(&child, parts[1:])
		v[parts[0]] = child
		return found
	case []any:
		i, ok := index(parts[0], len(v))
		if !ok {
			return false
		}
		if len(parts) == 1 {
			*doc = slices.Delete(v, i, i+1)
			return true
		}
		return remove(&v[i], parts[1:])
	}
	return false
}

// upsert sets the value at parts inside *doc, creating missing objects on
// the way, and reports whether it could: a path through a scalar or past
// the end of an array is undefined and left alone.
func upsert(doc *any, parts []string, val any) bool {
	if len(parts) == 0 {
		*doc = val
		return true
	}
	switch v := (*doc).(type) {
	case map[string]any:
		child, ok := v[parts[0]]
		if !ok && len(parts) > 1 {
			child = map[string]any{}
		}
		if !upsert(&child, parts[1:], val) {
			return false
		}
		v[parts[0]] = child
		return true
	case []any:
		i, ok := index(parts[0], len(v))
		if !ok {
			return false
		}
		return upsert(&v[i], parts[1:], val)
	}
	return false
}
