package authn

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestScanBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		tok          string
		jws, token68 bool
	}{
		{"a signed compact JWS", jws, true, true},
		{"an unsigned token with an empty signature", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", true, true},
		{"an opaque token", opaque, false, true},
		{"two parts", "a.b", false, true},
		{"four parts", "a.b.c.d", false, true},
		{"an empty header", ".b.c", false, true},
		{"an empty payload", "a..c", false, true},
		{"a trailing dot", "a.b.c.", false, true},
		{"a token68 byte that is not base64url", "a.b+.c", false, true},
		{"padding is not base64url", "a=.b.c", false, false},
		{"padding at the end", "a.b.c==", false, true},
		{"only padding", "==", false, false},
		{"empty", "", false, false},
		{"a space", "a.b .c", false, false},
		{"a byte above ASCII", "a.b.c\xff", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := scanBearer(tc.tok); got.jws != tc.jws || got.token68 != tc.token68 {
				t.Fatalf("scanBearer(%q) = %+v, want jws %v, token68 %v", tc.tok, got, tc.jws, tc.token68)
			}
		})
	}
}

// FuzzScanBearer checks the one-pass scan against the two definitions it
// replaced, each a pass of its own.
func FuzzScanBearer(f *testing.F) {
	for _, s := range []string{jws, opaque, "a.b", "a..c", "a.b.c.", "a.b+.c", "a=.b.c", "ab==", "==", "a.b.c=", "a.b.c.d", ".b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := scanBearer(s); got.token68 != refToken68(s) || got.jws != refLooksLikeJWS(s) {
			t.Fatalf("scanBearer(%q) = %+v, want token68 %v, jws %v", s, got, refToken68(s), refLooksLikeJWS(s))
		}
	})
}

// refToken68 is RFC 9110's token68 as written: a body of token68 bytes and
// then only "=".
func refToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// refLooksLikeJWS is the JWS compact shape: exactly three base64url parts,
// the first two non-empty.
func refLooksLikeJWS(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// candidates counts, independently of extract, the places the fuzzed
// request may carry a credential.
func candidates(r *http.Request, x *extractor) int {
	n := 0
	// Header names in every spelling a backend may fold together.
	fold := func(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "-")) }
	for k, vs := range r.Header {
		if fold(k) == "authorization" || fold(k) == fold(x.apiKeyHeader) {
			n += len(vs)
		}
	}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err == nil && key != "" && (key == x.bearerQuery || key == x.apiKeyQuery) {
			n++
		}
	}
	// Cookie names by their own rules: whitespace trimmed, percent-decoded,
	// "." and " " as "_", case ignored, "," as a separator too.
	for _, line := range r.Header.Values("Cookie") {
		for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == ',' }) {
			name, _, _ := strings.Cut(part, "=")
			name = strings.Trim(name, " \t")
			if d, err := url.QueryUnescape(name); err == nil {
				name = d
			}
			name = strings.NewReplacer(".", "_", " ", "_").Replace(name)
			if strings.EqualFold(name, x.bearerCookie) {
				n++
			}
		}
	}
	return n
}

func FuzzExtract(f *testing.F) {
	f.Add("Bearer "+jws, "", "", "", "", true)
	f.Add("Bearer "+jws, "Bearer x", "", "", "", true)
	f.Add("", "", "pk_abc", "apikey=pk_abc", "", true)
	f.Add("bearer a", "", "", "access_token=b&x=1", "at=c", false)
	f.Add("", "", "", "access_token=%zz", "", true)
	f.Add("", "", "", "api%6Bey=a&apikey=b", "", true)
	f.Add("", "", "", "", `a=1; at="tok"; at=tok2`, true)
	f.Add("", "", "", "", `at=tok; AT =tok2`, true)
	f.Add("", "", "", "", `x=1, at=tok`, true)
	f.Add("", "", "", "", `%61t=tok`, true)
	f.Add("Basic x", "", "a,b", ";apikey=1", "at", true)
	f.Add("Bearer "+jws, "x_api_key", "", "", "", true)
	f.Add("", "authorization", "pk_abc", "", "", false)
	f.Fuzz(func(t *testing.T, auth1, auth2, key, rawQuery, cookie string, apiKeyQuery bool) {
		x := &extractor{bearerQuery: "access_token", bearerCookie: "at", apiKeyHeader: "X-Api-Key"}
		if apiKeyQuery {
			x.apiKeyQuery = "apikey"
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = rawQuery
		for h, v := range map[string]string{"Authorization": auth1, "X-Api-Key": key, "Cookie": cookie} {
			if v != "" {
				r.Header.Add(h, v)
			}
		}
		switch {
		case strings.HasPrefix(strings.ToLower(auth2), "bearer ") || auth2 == "Basic" || strings.Contains(auth2, " "):
			r.Header.Add("Authorization", auth2)
		case auth2 != "":
			// A name as the client spelled it (headers_with_underscores
			// "allow" keeps X_Api_Key beside X-Api-Key): a second value of
			// whichever credential header it folds to.
			r.Header[auth2] = append(r.Header[auth2], "Bearer "+jws)
		}
		n := candidates(r, x)
		f, ok, p := x.extract(r)
		switch {
		case ok && p != nil:
			t.Fatal("both a credential and a problem")
		case n >= 2 && p == nil:
			t.Fatalf("%d candidate credentials were not rejected (ok=%v, %+v)", n, ok, f.cred)
		case ok && n != 1:
			t.Fatalf("a credential from %d candidates", n)
		case !ok && p == nil && n != 0:
			t.Fatalf("%d candidates ignored silently", n)
		case ok && f.cred.Value == "":
			t.Fatal("empty credential")
		}
		if !ok {
			return
		}
		// Hiding the one credential leaves none behind.
		hide(r, f)
		if _, again, p := x.extract(r); again || p != nil {
			t.Fatalf("after hiding: ok=%v problem=%v", again, p)
		}
	})
}

// BenchmarkScanBearer scans a JWS of the size make bench's RS256 tokens
// have (~800 bytes), which every request with a bearer token pays.
func BenchmarkScanBearer(b *testing.B) {
	tok := strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 4) + "." + strings.Repeat("eyJzdWIiOiJhbGljZSJ9", 14) + "." + strings.Repeat("c2lnbmF0dXJlXy0", 23)
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if !scanBearer(tok).jws {
			b.Fatal("not a JWS")
		}
	}
}
