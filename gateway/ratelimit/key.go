package ratelimit

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/policy"
)

// keyPart reads one part of a key from the request.
type keyPart func(r *http.Request, in *policy.Input, route string) string

// compileKey turns the key parts of a limit (config.Limit.Key, validated
// by config) into their readers.
func compileKey(parts []string) ([]keyPart, error) {
	out := make([]keyPart, len(parts))
	for i, p := range parts {
		switch {
		case p == "consumer":
			out[i] = func(_ *http.Request, in *policy.Input, _ string) string { return identity(in).Consumer }
		case p == "subject":
			out[i] = func(_ *http.Request, in *policy.Input, _ string) string { return identity(in).Subject }
		case p == "client_ip":
			out[i] = func(_ *http.Request, in *policy.Input, _ string) string { return in.Request.ClientIP }
		case p == "route":
			out[i] = func(_ *http.Request, _ *policy.Input, route string) string { return route }
		case p == "credential":
			out[i] = func(_ *http.Request, in *policy.Input, _ string) string { return credential(identity(in)) }
		case strings.HasPrefix(p, "header:"):
			name := http.CanonicalHeaderKey(strings.TrimPrefix(p, "header:"))
			out[i] = func(r *http.Request, _ *policy.Input, _ string) string {
				return strings.Join(r.Header.Values(name), ",")
			}
		case strings.HasPrefix(p, "claim:"):
			name := strings.TrimPrefix(p, "claim:")
			out[i] = func(_ *http.Request, in *policy.Input, _ string) string { return claim(identity(in), name) }
		default:
			return nil, fmt.Errorf("key part %q is unknown", p)
		}
	}
	return out, nil
}

var noIdentity = &policy.Identity{}

func identity(in *policy.Input) *policy.Identity {
	if in.Identity == nil {
		return noIdentity
	}
	return in.Identity
}

// credential identifies the credential, never by its value: an API key
// by its id, a JWT by issuer, signing key and subject, a client
// certificate by its fingerprint.
func credential(id *policy.Identity) string {
	if c := id.Certificate; c != nil {
		return id.Method + "\x00" + c.FingerprintSHA256
	}
	return id.Method + "\x00" + id.Issuer + "\x00" + id.KeyID + "\x00" + id.Subject
}

func claim(id *policy.Identity, name string) string {
	switch v := id.Claims[name].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// Digest is a key as the stores keep it.
type Digest [16]byte

// Key is the digest of a key's values: what the stores keep, so that no
// consumer name, address or header value sits in memory keys or in Redis.
// Each value is prefixed with its length, so ("ab", "c") and ("a", "bc")
// differ. A missing value is "": anonymous callers of a per-consumer limit
// share one bucket.
func Key(values ...string) Digest {
	var buf [256]byte
	b := buf[:0]
	for _, v := range values {
		b = append(strconv.AppendInt(b, int64(len(v)), 10), ':')
		b = append(b, v...)
	}
	sum := sha256.Sum256(b)
	return Digest(sum[:16])
}

// key is Key of the request's values of parts.
func key(parts []keyPart, r *http.Request, in *policy.Input, route string) Digest {
	var vs [8]string
	values := vs[:0]
	for _, p := range parts {
		values = append(values, p(r, in, route))
	}
	return Key(values...)
}
