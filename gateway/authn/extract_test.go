package authn

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestLooksLikeJWS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tok  string
		want bool
	}{
		{"a signed compact JWS", jws, true},
		{"an unsigned token with an empty signature", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", true},
		{"an opaque token", opaque, false},
		{"two parts", "a.b", false},
		{"four parts", "a.b.c.d", false},
		{"an empty header", ".b.c", false},
		{"an empty payload", "a..c", false},
		{"a trailing dot", "a.b.c.", false},
		{"a token68 byte that is not base64url", "a.b+.c", false},
		{"padding is not base64url", "a=.b.c", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := looksLikeJWS(tc.tok); got != tc.want {
				t.Fatalf("looksLikeJWS(%q) = %v, want %v", tc.tok, got, tc.want)
			}
		})
	}
}

// candidates counts, independently of extract, the places the fuzzed
// request may carry a credential.
func candidates(r *http.Request, x *extractor) int {
	n := len(r.Header.Values("Authorization")) + len(r.Header.Values(x.apiKeyHeader))
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
		if auth2 != "" {
			r.Header.Add("Authorization", auth2)
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
