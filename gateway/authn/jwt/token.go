package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxHeaderBytes caps the decoded JOSE header. Real headers are well under
// 1 KiB; the cap bounds work before any signature is checked
// (CVE-2025-30204 was a header-split memory DoS).
const maxHeaderBytes = 4 << 10

// maxJSONDepth caps nesting in the header and the claims.
const maxJSONDepth = 16

// IsJWS reports whether token has the shape of a compact JWS: three
// base64url parts separated by dots, the header part not empty. It says
// nothing about validity.
func IsJWS(token string) bool { return parts(token) == 3 }

// parts returns the number of dot-separated parts of token if every other
// byte is in the unpadded base64url alphabet and the first part is not
// empty, else 0.
func parts(token string) int {
	if token == "" || token[0] == '.' {
		return 0
	}
	n := 1
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			n++
		case !base64URLByte[c]:
			return 0
		}
	}
	return n
}

// base64URLByte marks the unpadded base64url alphabet: one lookup per
// byte of a token that is checked on every request.
var base64URLByte = func() (t [256]bool) {
	for c := range 256 {
		b := byte(c)
		t[c] = b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
	}
	return t
}()

var b64 = base64.RawURLEncoding.Strict()

// decodeSegment base64url-decodes seg (at most limit decoded bytes) and
// parses it as a JSON object with decodeObject.
func decodeSegment(seg string, limit int) (map[string]any, error) {
	if b64.DecodedLen(len(seg)) > limit {
		return nil, fmt.Errorf("segment exceeds %d bytes", limit)
	}
	b, err := b64.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("segment is not base64url: %w", err)
	}
	return decodeObject(b)
}

var errDuplicateKey = errors.New("duplicate object key")

// decodeObject parses b as one JSON object, like json.Unmarshal into
// map[string]any, but rejects duplicate keys at any level (encoding/json
// keeps the last one, so two parsers could disagree on a claim) and nesting
// deeper than maxJSONDepth. Numbers are json.Number, their text as the
// issuer wrote it: a float64 would round integers above 2^53 and reach the
// policy and the decision log as 1.796114918e+09 (OPA writes 1796114918).
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m, err := readObject(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

func readObject(dec *json.Decoder, depth int) (map[string]any, error) {
	m := make(map[string]any)
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return m, nil
		}
		key, _ := tok.(string) // the decoder guarantees a string here
		if _, dup := m[key]; dup {
			return nil, errDuplicateKey
		}
		if m[key], err = readValue(dec, depth); err != nil {
			return nil, err
		}
	}
}

func readArray(dec *json.Decoder, depth int) ([]any, error) {
	a := []any{}
	for dec.More() {
		v, err := readValue(dec, depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	_, err := dec.Token() // ']'
	return a, err
}

func readValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	if d == '{' {
		return readObject(dec, depth+1)
	}
	return readArray(dec, depth+1)
}
