package authn

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func cookieRequest(lines ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	return r
}

func TestCredentialCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cookie  string // the route's bearer_cookie
		lines   []string
		reason  string // "" when a credential is found
		want    string // its value
		remains []string
	}{
		{"one cookie among others", "session", []string{"theme=dark; session=tok; lang=en"}, "", "tok", []string{"theme=dark; lang=en"}},
		{"whitespace before the equals sign", "session", []string{"session =tok"}, "", "tok", nil},
		{"whitespace after the equals sign", "session", []string{"a=1; session= tok"}, "", "tok", []string{"a=1"}},
		{"a tab around the name", "session", []string{"a=1;\tsession\t=tok"}, "", "tok", []string{"a=1"}},
		{"a quoted value", "session", []string{`session="tok"`}, "", "tok", nil},
		{"a case variant alone is the credential", "session", []string{"Session=tok; b=2"}, "", "tok", []string{"b=2"}},
		{"a percent-encoded name", "session", []string{"sess%69on=tok"}, "", "tok", nil},
		{"PHP's dot for underscore", "access_token", []string{"x=1; access.token=tok"}, "", "tok", []string{"x=1"}},
		{"a comma inside an unrelated value is kept", "session", []string{"a=x,y; session=tok"}, "", "tok", []string{"a=x,y"}},

		{"repeated exactly", "session", []string{"session=a; session=a"}, ReasonAmbiguous, "", nil},
		{"a space before the equals sign", "session", []string{"session=valid; session =forged"}, ReasonAmbiguous, "", nil},
		{"a space after the equals sign", "session", []string{"session=valid; session= forged"}, ReasonAmbiguous, "", nil},
		{"no space after the semicolon", "session", []string{"session=valid;session=forged"}, ReasonAmbiguous, "", nil},
		{"upper case", "session", []string{"session=valid; SESSION=forged"}, ReasonAmbiguous, "", nil},
		{"title case", "session", []string{"Session=forged; session=valid"}, ReasonAmbiguous, "", nil},
		{"two header lines", "session", []string{"session=valid", "session=forged"}, ReasonAmbiguous, "", nil},
		{"two lines, two spellings", "session", []string{"a=1; session=valid", "b=2; Session =forged"}, ReasonAmbiguous, "", nil},
		{"a quoted and a bare value", "session", []string{`session="valid"; session=forged`}, ReasonAmbiguous, "", nil},
		{"a percent-encoded spelling", "session", []string{"session=valid; sess%69on=forged"}, ReasonAmbiguous, "", nil},
		{"a long s", "session", []string{"session=valid; \u017fession=forged"}, ReasonAmbiguous, "", nil},
		{"a Kelvin sign", "key", []string{"key=valid; \u212aey=forged"}, ReasonAmbiguous, "", nil},
		{"PHP's space for underscore", "access_token", []string{"access_token=valid; access token=forged"}, ReasonAmbiguous, "", nil},
		{"PHP's dot for underscore, repeated", "access_token", []string{"access_token=valid; ACCESS.TOKEN=forged"}, ReasonAmbiguous, "", nil},
		{"hidden after a comma (RFC 2109)", "session", []string{"session=valid; theme=dark, session=forged"}, ReasonAmbiguous, "", nil},
		{"hidden after a comma, alone", "session", []string{"theme=dark,session=forged"}, ReasonAmbiguous, "", nil},
		{"an empty repeat", "session", []string{"session=valid; session"}, ReasonAmbiguous, "", nil},
		{"a malformed value", "session", []string{"session=a b"}, ReasonMalformed, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := &extractor{bearerCookie: string(cookieKey(nil, tc.cookie)), apiKeyHeader: "X-Api-Key"}
			r := cookieRequest(tc.lines...)
			f, ok, p := x.extract(r)
			if tc.reason != "" {
				if p == nil || string(p.Reason) != tc.reason {
					t.Fatalf("extract = %+v, %v, %v; want %s", f.cred, ok, p, tc.reason)
				}
				return
			}
			if p != nil || !ok || f.cred.Value != tc.want {
				t.Fatalf("extract = %+v, %v, %v; want %q", f.cred, ok, p, tc.want)
			}
			hide(r, f)
			if got := r.Header.Values("Cookie"); !slices.Equal(got, tc.remains) {
				t.Fatalf("after hiding: %q, want %q", got, tc.remains)
			}
		})
	}
}

func TestWithoutCookieRemovesEverySpelling(t *testing.T) {
	t.Parallel()
	h := http.Header{"Cookie": {"a=1; Session=x; session =y", "SESSION=z; b=2; sess%69on=w", " session\t= v "}}
	withoutCookie(h, string(cookieKey(nil, "session")))
	if got, want := h.Values("Cookie"), []string{"a=1", "b=2"}; !slices.Equal(got, want) {
		t.Fatalf("Cookie = %q, want %q", got, want)
	}
}
