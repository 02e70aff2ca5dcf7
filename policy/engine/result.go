package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/policy"
)

// parseResult fills d from the decision rule's value (see
// Engine.EvaluateValue for the contract). Any deviation is an error.
func parseResult(v any, d *policy.Decision) error {
	switch r := v.(type) {
	case bool:
		d.Allow = r
		return nil
	case map[string]any:
		if _, ok := r["allow"]; ok {
			return parseNative(r, d)
		}
		if _, ok := r["allowed"]; ok {
			return parseEnvoy(r, d)
		}
		return fmt.Errorf("result object has neither allow nor allowed")
	default:
		return fmt.Errorf("result is %T, want boolean or object", v)
	}
}

func parseNative(r map[string]any, d *policy.Decision) error {
	var err error
	if d.Allow, err = boolField(r, "allow"); err != nil {
		return err
	}
	if s, ok := r["status"]; ok {
		status, err := statusField("status", s)
		if err != nil {
			return err
		}
		if !d.Allow {
			d.Status = status
		}
	}
	if d.Reasons, err = stringsField(r, "reasons"); err != nil {
		return err
	}
	if d.Headers, err = headersField(r, "headers"); err != nil {
		return err
	}
	d.ResponseHeaders, err = headersField(r, "response_headers")
	return err
}

func parseEnvoy(r map[string]any, d *policy.Decision) error {
	var err error
	if d.Allow, err = boolField(r, "allowed"); err != nil {
		return err
	}
	if d.Headers, err = headersField(r, "headers"); err != nil {
		return err
	}
	if d.ResponseHeaders, err = headersField(r, "response_headers_to_add"); err != nil {
		return err
	}
	if d.RemoveHeaders, err = stringsField(r, "request_headers_to_remove"); err != nil {
		return err
	}
	for _, h := range d.RemoveHeaders {
		if !validHeaderName(h) {
			return fmt.Errorf("request_headers_to_remove: invalid header name")
		}
	}
	if d.Allow {
		return nil
	}
	if s, ok := r["http_status"]; ok {
		if d.Status, err = statusField("http_status", s); err != nil {
			return err
		}
	}
	if b, ok := r["body"]; ok {
		s, isStr := b.(string)
		if !isStr {
			return fmt.Errorf("body is %T, want string", b)
		}
		d.Body = s
	}
	return nil
}

func boolField(r map[string]any, key string) (bool, error) {
	b, ok := r[key].(bool)
	if !ok {
		return false, fmt.Errorf("%s is %T, want boolean", key, r[key])
	}
	return b, nil
}

// statusField accepts an integer in 400..499: a policy may choose how to
// deny, never turn a deny into a success or a server error.
func statusField(key string, v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s is %T, want integer", key, v)
	}
	i, err := n.Int64()
	if err != nil || i < 400 || i > 499 {
		return 0, fmt.Errorf("%s %s is not a 4xx status", key, n)
	}
	return int(i), nil
}

// stringsField reads an array (or set) of strings; absent is nil.
func stringsField(r map[string]any, key string) ([]string, error) {
	v, ok := r[key]
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want array of strings", key, v)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		if out[i], ok = e.(string); !ok {
			return nil, fmt.Errorf("%s[%d] is %T, want string", key, i, e)
		}
	}
	return out, nil
}

// headersField reads {name: value} with string values; absent is nil.
func headersField(r map[string]any, key string) (map[string]string, error) {
	v, ok := r[key]
	if !ok {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want object", key, v)
	}
	out := make(map[string]string, len(obj))
	for name, val := range obj {
		s, isStr := val.(string)
		if !isStr {
			return nil, fmt.Errorf("%s: value is %T, want string", key, val)
		}
		if !validHeaderName(name) || strings.ContainsAny(s, "\r\n\x00") {
			// Never echo the bad name or value: it may be attacker input.
			return nil, fmt.Errorf("%s: invalid header name or value", key)
		}
		out[name] = s
	}
	return out, nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
