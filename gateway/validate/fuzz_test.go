package validate

import (
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/problem"
)

func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		`{"name":"Ada","email":"ada@example.com","role":"admin"}`,
		`{"name":"test"}`, `{"name":1,"email":[]}`, `[]`, `null`, `{"name":"a","email":"a@b","x":{"y":[1,2,{}]}}`,
		`{"name":"\ud800","email":"\u0000@x"}`, `{`, "\xff\xfe", `{"email":"a@b","name":"a","name":"b"}`,
	} {
		f.Add([]byte(s), "application/json", "/api/v1/users")
	}
	f.Add([]byte("x"), "application/octet-stream", "/api/v1/upload")
	f.Add([]byte(`{}`), "application/json", "/api/v1/users/%ZZ?limit=-1&role=")
	f.Add([]byte(`{"name":"a","email":"a@b","Role":"admin"}`), "application/json", "/api/v1/users?limit=1&Limit=2")
	v := newValidator(f, config.RouteOpenAPI{})
	f.Fuzz(func(t *testing.T, b []byte, ct, target string) {
		r, err := http.NewRequest(http.MethodPost, "http://x"+target, nil)
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", ct)
		r.Body, r.ContentLength = http.NoBody, 0
		if body.CheckJSON(b, 32, 10000) != nil || body.CheckContentType(r.Header) != nil {
			return // refused by body.Read before validation
		}
		if len(b) > 0 {
			r = request(http.MethodPost, "/", ct, string(b))
			r.URL.Path, r.URL.RawQuery = mustURL(target)
		}
		st := run(t, v, r)
		if st == nil {
			t.Fatal("next did not run")
		}
		if st.Rejection == nil != st.Input.Validation.Valid {
			t.Fatalf("rejection %v disagrees with validation %+v", st.Rejection, st.Input.Validation)
		}
		if p := problem.As(st.Rejection); st.Rejection != nil && (p == nil || p.Status < 400 || p.Status > 415) {
			t.Fatalf("rejection %v is not a 4xx problem", st.Rejection)
		}
	})
}

func mustURL(target string) (string, string) {
	r, err := http.NewRequest(http.MethodGet, "http://x"+target, nil)
	if err != nil {
		return "/", ""
	}
	return r.URL.Path, r.URL.RawQuery
}

func BenchmarkValidateUsersPost(b *testing.B) {
	v := newValidator(b, config.RouteOpenAPI{})
	const body = `{"name":"Ada Lovelace","email":"ada@example.com","role":"admin"}`
	b.ReportAllocs()
	for b.Loop() {
		st := run(b, v, request("POST", "/api/v1/users", "application/json", body))
		if st.Rejection != nil {
			b.Fatal(st.Rejection)
		}
	}
}

func BenchmarkValidateGetByID(b *testing.B) {
	v := newValidator(b, config.RouteOpenAPI{})
	b.ReportAllocs()
	for b.Loop() {
		if st := run(b, v, request("GET", "/api/v1/users/"+userID, "", "")); st.Rejection != nil {
			b.Fatal(st.Rejection)
		}
	}
}

// BenchmarkCheckUsersPost measures the validator alone: a prepared request
// and a body already in the state, as body.Read leaves them.
func BenchmarkCheckUsersPost(b *testing.B) {
	v := newValidator(b, config.RouteOpenAPI{})
	body := []byte(`{"name":"Ada Lovelace","email":"ada@example.com","role":"admin"}`)
	r := request("POST", "/api/v1/users", "application/json", "")
	c := v.current.Load()
	b.ReportAllocs()
	for b.Loop() {
		var in input.Doc
		if _, p := v.check(c, r, &in, &buffered{Bytes: body, Plain: body, Read: true}); p != nil {
			b.Fatal(p)
		}
	}
}

type buffered = body.Buffered
