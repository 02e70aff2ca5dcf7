package authz

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/policy"
)

// inputBody gives the policy the body a route with policy.input_body asked
// for: input.request.body is the parsed JSON body; a body that was not
// read, is not JSON or does not parse is left out with body_truncated set.
// On an opa-envoy route the plain body is also the raw body string.
func inputBody(req *policy.Request, b *body.Buffered, r *http.Request, opaEnvoy bool) {
	if b == nil || !b.Read {
		req.BodyTruncated = r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
		return
	}
	plain := b.PlainBytes()
	if opaEnvoy {
		req.RawBody = plain
	}
	if len(plain) == 0 {
		return
	}
	v, ok := parseJSON(plain)
	if !body.IsJSON(body.ContentType(r.Header)) || !ok {
		req.BodyTruncated = true
		return
	}
	req.Body = v
}

// parseJSON decodes one JSON document, keeping numbers exact (json.Number),
// so that large integer ids reach the policy unrounded.
func parseJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, false
	}
	return v, true
}
