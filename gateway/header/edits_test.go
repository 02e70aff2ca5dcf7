package header

import (
	"net/http"
	"strconv"
	"testing"
)

func TestEditsApply(t *testing.T) {
	t.Parallel()
	var e Edits
	e.Set("x-user", "alice")
	e.Set("X-User", "bob") // the same canonical name: the last value wins
	for i := range 6 {     // more than the inline ones
		e.Set("X-H"+strconv.Itoa(i), strconv.Itoa(i))
	}
	e.Delete("X-Drop", "X-User")
	h := http.Header{"X_user": {"spoofed"}, "X-Drop": {"d"}, "X-Keep": {"k"}, "X-H5": {"client"}}
	e.Apply(h)
	want := http.Header{"X-User": {"bob"}, "X-Keep": {"k"}}
	for i := range 6 {
		want["X-H"+strconv.Itoa(i)] = []string{strconv.Itoa(i)}
	}
	if len(h) != len(want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	for k, v := range want {
		if len(h[k]) != 1 || h[k][0] != v[0] {
			t.Fatalf("%s = %v, want %v (all: %v)", k, h[k], v, h)
		}
	}
	// An append to one applied header cannot change the next one.
	h["X-User"] = append(h["X-User"], "extra")
	if h["X-H0"][0] != "0" {
		t.Fatalf("an append overwrote the next value: %v", h)
	}
}
