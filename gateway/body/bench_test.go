package body

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

// BenchmarkGuardReadPost measures Guard and Budget.Read on the JSON POST
// of make bench (c) from an authenticated caller: the stages alone, the
// request and its parts reused.
func BenchmarkGuardReadPost(b *testing.B) {
	l := config.Default().Limits
	budget, err := NewBudget(l, nil)
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	h := Guard(l)(budget.Read(l, true)(pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		seen += len(Part.From(r.Context()).Plain)
		return nil
	})))
	raw := []byte(`{"name":"Ada Lovelace","email":"ada@example.com","role":"admin"}`)
	var rq pipeline.Request
	var st Buffered
	var doc input.Doc
	doc.Identity = &policy.Identity{Authenticated: true}
	Part.Bind(&rq, &st)
	input.Part.Bind(&rq, &doc)
	r := httptest.NewRequest(http.MethodPost, "/api/v1/users", nil)
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(pipeline.WithRequest(r.Context(), &rq))
	w := httptest.NewRecorder()
	var src bytes.Reader
	b.ReportAllocs()
	for b.Loop() {
		st = Buffered{}
		src.Reset(raw)
		r.Body, r.ContentLength = io.NopCloser(&src), int64(len(raw))
		if err := h.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
	if seen == 0 {
		b.Fatal("the body was not read")
	}
}
