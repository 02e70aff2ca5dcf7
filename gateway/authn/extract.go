package authn

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// Reason codes of the problems credential extraction returns.
const (
	ReasonAmbiguous = "credential_ambiguous"
	ReasonMalformed = "credential_malformed"
)

// maxAPIKeyBytes bounds an API key; anything longer is malformed.
const maxAPIKeyBytes = 1024

// Credential kinds and sources, as in [pipeline.Credential].
const (
	kindBearer     = "bearer"
	kindAPIKey     = "api_key"
	kindClientCert = "client_cert"

	sourceHeader = "header"
	sourceQuery  = "query"
	sourceCookie = "cookie"
	sourceTLS    = "tls"
)

// extractor finds the one credential of a request. The places are fixed
// per route when the stage is built; an empty name turns a place off.
type extractor struct {
	bearerQuery  string
	bearerCookie string // folded by cookieKey
	apiKeyHeader string // canonical form
	apiKeyQuery  string
	// clientCert counts a verified TLS client certificate as a credential
	// (routes that enable client_cert); elsewhere a certificate is only
	// the connection's.
	clientCert bool
}

// found is an extracted credential and the name of the header, query
// parameter or cookie it came in, so that it can be hidden.
type found struct {
	cred pipeline.Credential
	name string
	// jws tells a bearer token of the JWS compact shape (looksLikeJWS),
	// found by the scan that checked its syntax, so the token is read once.
	jws bool
}

// extract returns the request's credential, ok=false when there is none,
// or a 401 problem when one is malformed or there is more than one: the
// gateway never picks one of two credentials (a proxy in front and the
// upstream may pick differently).
func (x *extractor) extract(r *http.Request) (found, bool, *problem.Problem) {
	var buf [4]found
	got := buf[:0]
	// Every spelling of a credential header counts (as in header.Values):
	// under listen.headers_with_underscores "allow", X_API_Key is a second
	// API key. One pass over the header map finds both headers.
	var auth, key headerValue
	for k, v := range r.Header {
		if header.Equal(k, "Authorization") {
			auth.add(v)
		}
		if header.Equal(k, x.apiKeyHeader) {
			key.add(v)
		}
	}
	switch auth.n {
	case 0:
	case 1:
		tok, sh := parseBearer(auth.v)
		if !sh.token68 {
			return found{}, false, malformed("the Authorization header must be \"Bearer\" and a token")
		}
		got = append(got, found{pipeline.Credential{Kind: kindBearer, Source: sourceHeader, Value: tok}, "Authorization", sh.jws})
	default:
		return found{}, false, ambiguous("more than one Authorization header")
	}
	switch key.n {
	case 0:
	case 1:
		if !validAPIKey(key.v) {
			return found{}, false, malformed("the API key header is malformed")
		}
		got = append(got, found{cred: pipeline.Credential{Kind: kindAPIKey, Source: sourceHeader, Value: key.v}, name: x.apiKeyHeader})
	default:
		return found{}, false, ambiguous("more than one API key header")
	}
	if x.bearerQuery != "" || x.apiKeyQuery != "" {
		var p *problem.Problem
		if got, p = x.fromQuery(r.URL.RawQuery, got); p != nil {
			return found{}, false, p
		}
	}
	if x.bearerCookie != "" {
		var buf [2]string
		vals, hidden := credentialCookies(r.Header, x.bearerCookie, buf[:0])
		switch {
		case hidden:
			return found{}, false, ambiguous("a bearer cookie hides inside another cookie's value")
		case len(vals) > 1:
			return found{}, false, ambiguous("more than one bearer cookie")
		case len(vals) == 1:
			sh := scanBearer(vals[0])
			if !sh.token68 {
				return found{}, false, malformed("the bearer cookie is malformed")
			}
			got = append(got, found{pipeline.Credential{Kind: kindBearer, Source: sourceCookie, Value: vals[0]}, x.bearerCookie, sh.jws})
		}
	}
	if x.clientCert && hasVerifiedCert(r) {
		got = append(got, found{cred: pipeline.Credential{Kind: kindClientCert, Source: sourceTLS}})
	}
	switch len(got) {
	case 0:
		return found{}, false, nil
	case 1:
		return got[0], true, nil
	default:
		return found{}, false, ambiguous("more than one credential")
	}
}

// headerValue counts the values of one header name in all its spellings
// and keeps the first, which is the only one when n is 1.
type headerValue struct {
	n int
	v string
}

func (h *headerValue) add(vs []string) {
	if h.n == 0 && len(vs) > 0 {
		h.v = vs[0]
	}
	h.n += len(vs)
}

// hasVerifiedCert reports whether r's connection presented a client
// certificate the handshake verified. An unverified one (no chain) is
// never a credential.
func hasVerifiedCert(r *http.Request) bool {
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0
}

func (x *extractor) fromQuery(raw string, got []found) ([]found, *problem.Problem) {
	var nb, nk int
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, ok := queryKey(k)
		if !ok {
			continue
		}
		var kind string
		switch {
		case key == "":
			continue
		case key == x.bearerQuery:
			kind, nb = kindBearer, nb+1
		case key == x.apiKeyQuery:
			kind, nk = kindAPIKey, nk+1
		default:
			continue
		}
		if nb > 1 || nk > 1 {
			return nil, ambiguous("a credential query parameter is repeated")
		}
		val, err := url.QueryUnescape(v)
		var sh shape
		if kind == kindBearer {
			sh = scanBearer(val)
		}
		if err != nil || (kind == kindBearer && !sh.token68) || (kind == kindAPIKey && !validAPIKey(val)) {
			return nil, malformed("a credential query parameter is malformed")
		}
		got = append(got, found{pipeline.Credential{Kind: kind, Source: sourceQuery, Value: val}, key, sh.jws})
	}
	return got, nil
}

// queryKey decodes a query parameter name as url.ParseQuery does;
// ok=false when it cannot be decoded.
func queryKey(k string) (string, bool) {
	if !strings.ContainsAny(k, "%+") {
		return k, true
	}
	key, err := url.QueryUnescape(k)
	return key, err == nil
}

// parseBearer reads "Bearer <token68>" (RFC 6750 §2.1); the scheme is
// case-insensitive (RFC 9110 §11.1). The token is acceptable when its
// shape is token68.
func parseBearer(v string) (string, shape) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", shape{}
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, scanBearer(tok)
}

// shape is what one scan of a bearer token finds.
type shape struct {
	// token68: s is an RFC 9110 token68,
	// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
	token68 bool
	// jws: s has the JWS compact shape, three dot-separated base64url
	// parts, the first two non-empty. An empty signature still counts, so
	// an "alg: none" token reaches the JWT verifier (which rejects it)
	// rather than the introspection endpoint. A JWS is always a token68.
	jws bool
}

// scanBearer works out both answers of [shape] in one pass over s: a
// bearer token is scanned on every request, and a JWT is hundreds of bytes.
func scanBearer(s string) shape {
	// The common token, a JWS or another of only base64url bytes and dots,
	// is one branch-free pass; the dots are then found by IndexByte.
	all := uint8(dotted)
	for i := 0; i < len(s); i++ {
		all &= charClass[s[i]]
	}
	if all != 0 {
		dot1 := strings.IndexByte(s, '.')
		if dot1 <= 0 {
			return shape{token68: len(s) > 0}
		}
		rest := s[dot1+1:]
		dot2 := strings.IndexByte(rest, '.')
		return shape{token68: true, jws: dot2 > 0 && strings.IndexByte(rest[dot2+1:], '.') < 0}
	}
	return scanBearerSlow(s)
}

// scanBearerSlow is scanBearer for a token with a byte outside base64url
// and the dot: a token68 byte or padding that a JWS never has, or a byte
// that is no token68 at all.
func scanBearerSlow(s string) shape {
	dots, dot1, dot2 := 0, -1, -1
	b64 := true // no token68 byte outside base64url but the dots
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		cl := charClass[c]
		if cl&token68 == 0 {
			break
		}
		if cl&base64URL == 0 {
			if c != '.' {
				b64 = false
				continue
			}
			switch dots++; dots {
			case 1:
				dot1 = i
			case 2:
				dot2 = i
			}
		}
	}
	body := i
	for i < len(s) && s[i] == '=' {
		i++
	}
	return shape{
		token68: body > 0 && i == len(s),
		jws:     body == len(s) && b64 && dots == 2 && dot1 > 0 && dot2 > dot1+1,
	}
}

// Classes of token bytes: a bearer token is scanned on every request, so
// each byte costs one table lookup.
const (
	base64URL = 1 << iota // ALPHA / DIGIT / "-" / "_"
	token68               // base64URL and "." "~" "+" "/"
	dotted                // base64URL and "."
)

var charClass = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
			t[c] = base64URL | token68 | dotted
		case b == '.':
			t[c] = token68 | dotted
		case strings.IndexByte("~+/", b) >= 0:
			t[c] = token68
		}
	}
	return t
}()

// validAPIKey accepts 1..1024 visible ASCII characters except the comma,
// which would mean an intermediary folded two header lines into one.
func validAPIKey(s string) bool {
	if s == "" || len(s) > maxAPIKeyBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == ',' {
			return false
		}
	}
	return true
}

// ambiguous and malformed are 401s; RFC 6750 §3.1 calls a request that
// carries credentials badly "invalid_request".
func ambiguous(detail string) *problem.Problem {
	return problem.New(http.StatusUnauthorized, ReasonAmbiguous, detail).
		WithHeader("WWW-Authenticate", `Bearer error="invalid_request"`)
}

func malformed(detail string) *problem.Problem {
	return problem.New(http.StatusUnauthorized, ReasonMalformed, detail).
		WithHeader("WWW-Authenticate", `Bearer error="invalid_request"`)
}
