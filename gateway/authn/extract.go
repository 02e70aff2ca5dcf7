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
}

// extract returns the request's credential, ok=false when there is none,
// or a 401 problem when one is malformed or there is more than one: the
// gateway never picks one of two credentials (a proxy in front and the
// upstream may pick differently).
func (x *extractor) extract(r *http.Request) (found, bool, *problem.Problem) {
	var buf [4]found
	got := buf[:0]
	// Every spelling of a credential header counts (header.Values): under
	// listen.headers_with_underscores "allow", X_API_Key is a second API key.
	switch v := header.Values(r.Header, "Authorization"); len(v) {
	case 0:
	case 1:
		tok, ok := parseBearer(v[0])
		if !ok {
			return found{}, false, malformed("the Authorization header must be \"Bearer\" and a token")
		}
		got = append(got, found{pipeline.Credential{Kind: kindBearer, Source: sourceHeader, Value: tok}, "Authorization"})
	default:
		return found{}, false, ambiguous("more than one Authorization header")
	}
	switch v := header.Values(r.Header, x.apiKeyHeader); len(v) {
	case 0:
	case 1:
		if !validAPIKey(v[0]) {
			return found{}, false, malformed("the API key header is malformed")
		}
		got = append(got, found{pipeline.Credential{Kind: kindAPIKey, Source: sourceHeader, Value: v[0]}, x.apiKeyHeader})
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
		case len(vals) == 1 && !isToken68(vals[0]):
			return found{}, false, malformed("the bearer cookie is malformed")
		case len(vals) == 1:
			got = append(got, found{pipeline.Credential{Kind: kindBearer, Source: sourceCookie, Value: vals[0]}, x.bearerCookie})
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
		if err != nil || (kind == kindBearer && !isToken68(val)) || (kind == kindAPIKey && !validAPIKey(val)) {
			return nil, malformed("a credential query parameter is malformed")
		}
		got = append(got, found{pipeline.Credential{Kind: kind, Source: sourceQuery, Value: val}, key})
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
// case-insensitive (RFC 9110 §11.1).
func parseBearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, isToken68(tok)
}

// isToken68 reports whether s is an RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		if charClass[body[i]]&token68 == 0 {
			return false
		}
	}
	return true
}

// Classes of token bytes: a bearer token is scanned on every request, so
// each byte costs one table lookup.
const (
	base64URL = 1 << iota // ALPHA / DIGIT / "-" / "_"
	token68               // base64URL and "." "~" "+" "/"
)

var charClass = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
			t[c] = base64URL | token68
		case strings.IndexByte(".~+/", b) >= 0:
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

// looksLikeJWS reports whether tok has the JWS compact shape: three
// dot-separated base64url parts, the first two non-empty. An empty
// signature still counts, so an "alg: none" token reaches the JWT verifier
// (which rejects it) rather than the introspection endpoint.
func looksLikeJWS(tok string) bool {
	dot1, dot2 := -1, -1
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case charClass[c]&base64URL != 0:
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			return false
		}
	}
	return dot1 > 0 && dot2 > dot1+1
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
