package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/gateway/pipeline"
)

// BenchmarkActualRequest is the cost a CORS route adds to an allowed
// cross-origin request: the origin match, the headers and the writer.
func BenchmarkActualRequest(b *testing.B) {
	p, err := New(&partner)
	if err != nil {
		b.Fatal(err)
	}
	h := p.Middleware(pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		return nil
	}))
	r := httptest.NewRequest(http.MethodGet, "/public", nil)
	r.Header.Set("Origin", "https://app.example.com")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		_ = h.ServeHTTP(w, r)
	}
}
