package introspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// response is the part of an RFC 7662 introspection response the gateway
// uses, plus every field as Claims.
type response struct {
	active   bool
	sub      string
	iss      string
	clientID string
	scopes   []string
	aud      []string
	exp, nbf time.Time
	// tokenType is the response's token_type; hasTokenType tells whether
	// it was there at all (a JSON null counts as absent).
	tokenType    string
	hasTokenType bool
	// claims are the response's fields except "active" and, defensively,
	// "token": the token itself must never reach the policy input.
	claims map[string]any
	// identityJSON is the decision log's encoding of the identity made
	// from the response (policy.Identity.JSON): every identity made from
	// one response is the same.
	identityJSON policy.Encoded
}

// decodeResponse parses an introspection response body. Numbers stay
// json.Number in claims. A missing or non-boolean "active" is an error, as
// is a known field of the wrong type (the server is then not trusted at all).
func decodeResponse(body []byte) (*response, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode introspection response: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode introspection response: data after the JSON object")
	}
	if m == nil {
		return nil, errors.New("decode introspection response: null")
	}
	active, ok := m["active"].(bool)
	if !ok {
		return nil, errors.New("introspection response: active: want a boolean")
	}
	if !active {
		// RFC 7662 §2.2: nothing else of an inactive response is meaningful.
		return &response{}, nil
	}
	r := &response{active: true}
	var errs []error
	str := func(name string) string {
		switch v := m[name].(type) {
		case nil:
			return ""
		case string:
			return v
		default:
			errs = append(errs, fmt.Errorf("%s: want a string", name))
			return ""
		}
	}
	num := func(name string) time.Time {
		v, ok := m[name]
		if !ok || v == nil {
			return time.Time{}
		}
		t, err := unixTime(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return t
	}
	r.sub = str("sub")
	r.iss = str("iss")
	r.clientID = str("client_id")
	r.scopes = strings.Fields(str("scope"))
	r.tokenType, r.hasTokenType = str("token_type"), m["token_type"] != nil
	r.exp = num("exp")
	r.nbf = num("nbf")
	switch a := m["aud"].(type) {
	case nil:
	case string:
		r.aud = []string{a}
	case []any:
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				errs = append(errs, errors.New("aud: want a string or an array of strings"))
				break
			}
			r.aud = append(r.aud, s)
		}
	default:
		errs = append(errs, errors.New("aud: want a string or an array of strings"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("introspection response: %w", err)
	}
	delete(m, "active")
	delete(m, "token")
	r.claims = m
	return r, nil
}

// unixTime reads a NumericDate (seconds since the epoch, possibly fractional).
func unixTime(v any) (time.Time, error) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, errors.New("want a number of seconds")
	}
	f, err := n.Float64()
	// Bound to years 1970..9999 so the conversion cannot overflow.
	if err != nil || math.IsNaN(f) || f < 0 || f > 253402300799 {
		return time.Time{}, errors.New("want a number of seconds in range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
