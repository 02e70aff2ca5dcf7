package header

import (
	"net/http"
	"slices"
	"testing"
)

func TestFoldAndEqual(t *testing.T) {
	t.Parallel()
	same := []string{"X-User-Id", "x-user-id", "X_User_Id", "x_user_id", "X-USER_ID", "x-User_iD", "X_USER-ID"}
	for _, a := range same {
		if Fold(a) != "x-user-id" {
			t.Errorf("Fold(%q) = %q", a, Fold(a))
		}
		for _, b := range same {
			if !Equal(a, b) {
				t.Errorf("Equal(%q, %q) = false", a, b)
			}
		}
	}
	for _, other := range []string{"X-User-Idx", "X-UserId", "X.User.Id", "X-User-Id ", "XUser-Id-"} {
		if Equal(other, "X-User-Id") {
			t.Errorf("Equal(%q, X-User-Id) = true", other)
		}
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	s := NewSet("X-API-Key", "X-Consumer-Username", "authorization")
	for _, n := range []string{"X-Api-Key", "X_API_Key", "x_api_key", "X-Api_Key", "X-CONSUMER_USERNAME", "Authorization", "AUTHORIZATION"} {
		if !s.Has(n) {
			t.Errorf("Has(%q) = false", n)
		}
	}
	for _, n := range []string{"X-Api-Keys", "X-ApiKey", "Cookie", ""} {
		if s.Has(n) {
			t.Errorf("Has(%q) = true", n)
		}
	}
	long := string(make([]byte, 300))
	if s.Has(long) {
		t.Error("a long name matched")
	}
	h := http.Header{"X-Api-Key": {"a"}, "X_api_key": {"b"}, "X-Other": {"c"}}
	if !s.DeleteFrom(h) || len(h) != 1 || h["X-Other"] == nil {
		t.Errorf("DeleteFrom left %v", h)
	}
	if (Set{}).Has("x") || (Set{}).DeleteFrom(h) {
		t.Error("the zero Set is not empty")
	}
}

func TestValuesDelReplace(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Api-Key": {"one"}, "X_api_key": {"two"}, "X-Api_key": {"three"}, "Accept": {"*/*"}}
	v := Values(h, "X-API-Key")
	slices.Sort(v)
	if !slices.Equal(v, []string{"one", "three", "two"}) {
		t.Errorf("Values = %v", v)
	}
	if len(h["X-Api-Key"]) != 1 {
		t.Errorf("Values changed the header: %v", h["X-Api-Key"])
	}
	if v := Values(http.Header{"Accept": {"a"}}, "Accept"); len(v) != 1 {
		t.Errorf("Values of one spelling = %v", v)
	}
	Replace(h, "x-api-key", []string{"gateway"})
	if len(h) != 2 || h.Get("X-Api-Key") != "gateway" {
		t.Errorf("Replace left %v", h)
	}
	Del(h, "X_API_KEY")
	if len(h) != 1 {
		t.Errorf("Del left %v", h)
	}
}

// FuzzEqual checks that Equal, Fold and Set agree on any pair of names.
func FuzzEqual(f *testing.F) {
	f.Add("X-User-Id", "x_user_id")
	f.Add("a", "B")
	f.Add("_", "-")
	f.Fuzz(func(t *testing.T, a, b string) {
		eq := Equal(a, b)
		if eq != (Fold(a) == Fold(b)) {
			t.Fatalf("Equal(%q, %q) = %v, Fold says otherwise", a, b, eq)
		}
		if NewSet(a).Has(b) != eq {
			t.Fatalf("Set{%q}.Has(%q) != Equal", a, b)
		}
	})
}
