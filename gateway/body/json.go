package body

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/problem"
)

// Sentinels in the chain of the problems [CheckJSON] returns.
var (
	ErrJSONTooDeep     = errors.New("json nesting too deep")
	ErrJSONTooManyKeys = errors.New("json has too many keys or items")
)

// CheckJSON scans b without parsing it and returns a 400 problem when
// objects and arrays nest deeper than maxDepth (json_too_deep) or when the
// object keys and array items together number more than maxKeys
// (json_too_many_keys); errors.Is finds ErrJSONTooDeep or ErrJSONTooManyKeys
// in them. Non-positive limits mean the package defaults. Malformed JSON is
// not an error here: the scan only bounds the work of the parsers after it,
// and it is linear in len(b) with no allocation.
func CheckJSON(b []byte, maxDepth, maxKeys int) error {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxJSONDepth
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxJSONKeys
	}
	depth, count := 0, 0
	first := false // the next value is the first of a container
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ' ', '\t', '\n', '\r', ':':
			continue
		case '}', ']':
			if depth > 0 {
				depth--
			}
			first = false
			continue
		case ',':
			count++ // each comma starts one more key or item
		}
		if first {
			count++
			first = false
		}
		if count > maxKeys {
			return problem.Wrap(http.StatusBadRequest, ReasonJSONTooManyKeys, "the JSON body has too many keys or items", ErrJSONTooManyKeys)
		}
		switch c {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return problem.Wrap(http.StatusBadRequest, ReasonJSONTooDeep, "the JSON body is nested too deeply", ErrJSONTooDeep)
			}
			first = true
		case '"':
			i = skipString(b, i+1)
		}
	}
	return nil
}

// skipString returns the index of the quote closing the string that starts
// at i, or len(b)-1 when it is unterminated.
func skipString(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b) - 1
}
