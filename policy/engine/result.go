package engine

import (
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// parseResult fills d from the decision rule's value (see
// Engine.EvaluateValue for the contract), read as OPA values without a
// conversion to Go. Any deviation is an error.
func parseResult(v ast.Value, d *policy.Decision) error {
	switch r := v.(type) {
	case ast.Boolean:
		d.Allow = bool(r)
		return nil
	case ast.Object:
		if r.Get(kAllow) != nil {
			return parseNative(r, d)
		}
		if r.Get(kAllowed) != nil {
			return parseEnvoy(r, d)
		}
		return fmt.Errorf("result object has neither allow nor allowed")
	default:
		return fmt.Errorf("result is %s, want boolean or object", ast.ValueName(v))
	}
}

// Keys of the decision rule's result.
var (
	kAllow           = ast.StringTerm("allow")
	kAllowed         = ast.StringTerm("allowed")
	kStatus          = ast.StringTerm("status")
	kReasons         = ast.StringTerm("reasons")
	kResponseHeaders = ast.StringTerm("response_headers")
	kHTTPStatus      = ast.StringTerm("http_status")
	kResponseToAdd   = ast.StringTerm("response_headers_to_add")
	kHeadersToRemove = ast.StringTerm("request_headers_to_remove")
	kRateLimit       = ast.StringTerm("rate_limit")
	kClass           = ast.StringTerm("class")
)

func parseNative(r ast.Object, d *policy.Decision) error {
	var err error
	if d.Allow, err = boolField(r, kAllow); err != nil {
		return err
	}
	if s := r.Get(kStatus); s != nil {
		status, err := statusField(kStatus, s.Value)
		if err != nil {
			return err
		}
		if !d.Allow {
			d.Status = status
		}
	}
	if d.Reasons, err = stringsField(r, kReasons); err != nil {
		return err
	}
	if d.Headers, err = headersField(r, kHeaders); err != nil {
		return err
	}
	if d.RateLimitClass, err = rateLimitField(r); err != nil {
		return err
	}
	d.ResponseHeaders, err = headersField(r, kResponseHeaders)
	return err
}

// rateLimitField reads "rate_limit": {"class": string}; absent is "".
func rateLimitField(r ast.Object) (string, error) {
	t := r.Get(kRateLimit)
	if t == nil {
		return "", nil
	}
	o, ok := t.Value.(ast.Object)
	if !ok {
		return "", fmt.Errorf("rate_limit is %s, want object", ast.ValueName(t.Value))
	}
	c := o.Get(kClass)
	if c == nil {
		return "", nil
	}
	s, ok := c.Value.(ast.String)
	if !ok || s == "" {
		return "", fmt.Errorf("rate_limit.class is %s, want a non-empty string", ast.ValueName(c.Value))
	}
	return string(s), nil
}

func parseEnvoy(r ast.Object, d *policy.Decision) error {
	var err error
	if d.Allow, err = boolField(r, kAllowed); err != nil {
		return err
	}
	if d.Headers, err = headersField(r, kHeaders); err != nil {
		return err
	}
	if d.ResponseHeaders, err = headersField(r, kResponseToAdd); err != nil {
		return err
	}
	if d.RemoveHeaders, err = stringsField(r, kHeadersToRemove); err != nil {
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
	if s := r.Get(kHTTPStatus); s != nil {
		if d.Status, err = statusField(kHTTPStatus, s.Value); err != nil {
			return err
		}
	}
	if b := r.Get(kBody); b != nil {
		s, isStr := b.Value.(ast.String)
		if !isStr {
			return fmt.Errorf("body is %s, want string", ast.ValueName(b.Value))
		}
		d.Body = string(s)
	}
	return nil
}

// name is key's text, for error messages.
func name(key *ast.Term) string { return string(key.Value.(ast.String)) }

func boolField(r ast.Object, key *ast.Term) (bool, error) {
	if t := r.Get(key); t != nil {
		if b, ok := t.Value.(ast.Boolean); ok {
			return bool(b), nil
		}
		return false, fmt.Errorf("%s is %s, want boolean", name(key), ast.ValueName(t.Value))
	}
	return false, fmt.Errorf("%s is missing, want boolean", name(key))
}

// statusField accepts an integer in 400..499: a policy may choose how to
// deny, never turn a deny into a success or a server error.
func statusField(key *ast.Term, v ast.Value) (int, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("%s is %s, want integer", name(key), ast.ValueName(v))
	}
	i, ok := n.Int()
	if !ok || i < 400 || i > 499 {
		return 0, fmt.Errorf("%s %s is not a 4xx status", name(key), n)
	}
	return i, nil
}

// stringsField reads an array or a set of strings (a set in its sorted
// order); absent is nil.
func stringsField(r ast.Object, key *ast.Term) ([]string, error) {
	t := r.Get(key)
	if t == nil {
		return nil, nil
	}
	arr, ok := t.Value.(*ast.Array)
	if set, isSet := t.Value.(ast.Set); isSet {
		arr, ok = set.Sorted(), true
	}
	if !ok {
		return nil, fmt.Errorf("%s is %s, want array of strings", name(key), ast.ValueName(t.Value))
	}
	elems := make([]*ast.Term, 0, arr.Len())
	arr.Foreach(func(e *ast.Term) { elems = append(elems, e) })
	out := make([]string, len(elems))
	for i, e := range elems {
		s, ok := e.Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is %s, want string", name(key), i, ast.ValueName(e.Value))
		}
		out[i] = string(s)
	}
	return out, nil
}

// headersField reads {name: value} with string names and values; absent
// is nil.
func headersField(r ast.Object, key *ast.Term) (map[string]string, error) {
	t := r.Get(key)
	if t == nil {
		return nil, nil
	}
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want object", name(key), ast.ValueName(t.Value))
	}
	out := make(map[string]string, obj.Len())
	err := obj.Iter(func(k, v *ast.Term) error {
		n, okName := k.Value.(ast.String)
		s, okValue := v.Value.(ast.String)
		if !okName || !okValue {
			return fmt.Errorf("%s: name is %s and value %s, want strings", name(key), ast.ValueName(k.Value), ast.ValueName(v.Value))
		}
		if !validHeaderName(string(n)) || strings.ContainsAny(string(s), "\r\n\x00") {
			// Never echo the bad name or value: it may be attacker input.
			return fmt.Errorf("%s: invalid header name or value", name(key))
		}
		out[string(n)] = string(s)
		return nil
	})
	if err != nil {
		return nil, err
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
