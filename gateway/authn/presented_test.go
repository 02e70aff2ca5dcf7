package authn

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

func unauthorized() error { return problem.Unauthorized("invalid", "no", nil) }

// TestAFailedAuthenticationRecordsWhatWasPresented: the decision log of a
// 401 says which kind of credential came where, never its value, whether
// it was invalid, malformed, ambiguous or of a method the route does not take.
func TestAFailedAuthenticationRecordsWhatWasPresented(t *testing.T) {
	t.Parallel()
	all := methods("jwt", "introspection", "api_key")
	all.BearerQuery, all.BearerCookie, all.APIKeyQuery = "access_token", "session", true
	bearerHeader := pipeline.Presented{Kind: kindBearer, Source: sourceHeader}
	keyHeader := pipeline.Presented{Kind: kindAPIKey, Source: sourceHeader}
	tests := []struct {
		name   string
		ra     config.RouteAuthn
		r      *http.Request
		reject bool // the fake authenticators refuse every credential
		want   []pipeline.Presented
	}{
		{"a bad API key in the header", all, req("/", "X-API-Key", "pk_wrong"), true, []pipeline.Presented{keyHeader}},
		{"a folded API-key header", all, req("/", "X-API-Key", "a, b"), false, []pipeline.Presented{keyHeader}},
		{"two API-key headers, listed once", all, req("/", "X-API-Key", "a", "X-API-Key", "b"), false, []pipeline.Presented{keyHeader}},
		{"an API key under an underscore spelling (headers_with_underscores: allow)", all, req("/", "X_API_Key", "pk_wrong"), true, []pipeline.Presented{keyHeader}},
		{"an API key in the query", all, req("/?apikey=pk_wrong"), true, []pipeline.Presented{{Kind: kindAPIKey, Source: sourceQuery}}},
		{"an encoded API-key parameter name", all, req("/?api%6Bey=a&apikey=b"), false, []pipeline.Presented{{Kind: kindAPIKey, Source: sourceQuery}}},
		{"a rejected bearer token", all, req("/", "Authorization", "Bearer "+jws), true, []pipeline.Presented{bearerHeader}},
		{"a lower-case bearer scheme", all, req("/", "Authorization", "bearer "+opaque), true, []pipeline.Presented{bearerHeader}},
		{"a bare Bearer", all, req("/", "Authorization", "Bearer"), false, []pipeline.Presented{bearerHeader}},
		{"the Basic scheme", all, req("/", "Authorization", "Basic dXNlcjpwYXNz"), false, []pipeline.Presented{{Kind: kindOther, Source: sourceHeader}}},
		{"an empty Authorization header", all, req("/", "Authorization", ""), false, []pipeline.Presented{{Kind: kindOther, Source: sourceHeader}}},
		{"a token in the query", all, req("/?x=1&access_token=" + opaque), true, []pipeline.Presented{{Kind: kindBearer, Source: sourceQuery}}},
		{"a token in a cookie", all, req("/", "Cookie", "theme=dark; session="+jws), true, []pipeline.Presented{{Kind: kindBearer, Source: sourceCookie}}},
		{"a cookie name spelled with space and case", all, req("/", "Cookie", "session="+jws+"; SESSION ="+jws), true, []pipeline.Presented{{Kind: kindBearer, Source: sourceCookie}}},
		{"a header token and an API key", all, req("/", "Authorization", "Bearer "+jws, "X-API-Key", "k"), false, []pipeline.Presented{bearerHeader, keyHeader}},
		{"an API key where only JWTs are taken", methods("jwt"), req("/", "X-API-Key", "k"), false, []pipeline.Presented{keyHeader}},
		{"a query token where the route does not read the query", methods("jwt"), req("/?access_token=" + jws), false, nil},
		{"nothing at all", methods("jwt"), req("/", "Cookie", "session=x"), false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, tc.ra, tc.r, func(jwt, in, key *fakeAuth) {
				if tc.reject {
					jwt.err, in.err, key.err = unauthorized(), unauthorized(), unauthorized()
				}
			})
			if res.err == nil {
				t.Fatal("the request was authenticated")
			}
			if !reflect.DeepEqual(res.st.Presented, tc.want) {
				t.Fatalf("Presented = %v, want %v", res.st.Presented, tc.want)
			}
			for _, p := range res.st.Presented {
				if strings.Contains(p.Kind+p.Source, "pk_") {
					t.Fatalf("a value reached Presented: %v", p)
				}
			}
		})
	}
}

func TestASuccessfulAuthenticationRecordsNothingPresented(t *testing.T) {
	t.Parallel()
	res := run(t, methods("api_key"), req("/", "X-API-Key", "pk_good"), nil)
	if res.err != nil || res.st.Presented != nil {
		t.Fatalf("err %v, Presented %v", res.err, res.st.Presented)
	}
}
