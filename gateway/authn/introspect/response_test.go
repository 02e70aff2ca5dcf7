package introspect

import (
	"strings"
	"testing"
	"time"
)

func TestDecodeResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		wantErr string
		check   func(*response) bool
	}{
		{"an inactive response", `{"active": false, "sub": 5}`, "", func(r *response) bool { return !r.active && r.claims == nil }},
		{"aud as a string", `{"active": true, "aud": "api"}`, "", func(r *response) bool { return len(r.aud) == 1 && r.aud[0] == "api" }},
		{"fractional exp", `{"active": true, "exp": 1700000000.5}`, "", func(r *response) bool {
			return r.exp.Equal(time.Unix(1700000000, 5e8))
		}},
		{"the token field is dropped from claims", `{"active": true, "token": "t", "x": 1}`, "", func(r *response) bool {
			_, tok := r.claims["token"]
			_, act := r.claims["active"]
			return !tok && !act && r.claims["x"] != nil
		}},
		{"missing active", `{"sub": "a"}`, "active: want a boolean", nil},
		{"null", `null`, "null", nil},
		{"an array", `[]`, "decode", nil},
		{"trailing data", `{"active": true} {}`, "data after", nil},
		{"exp as a string", `{"active": true, "exp": "soon"}`, "exp: want a number", nil},
		{"negative exp", `{"active": true, "exp": -1}`, "exp: want a number of seconds in range", nil},
		{"aud with a number", `{"active": true, "aud": ["a", 1]}`, "aud: want a string", nil},
		{"sub as a number", `{"active": true, "sub": 1}`, "sub: want a string", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := decodeResponse([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Fatalf("unexpected result %+v", r)
			}
		})
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"active": true, "sub": "a", "aud": ["x"], "exp": 1700000000, "scope": "a b", "token": "t"}`))
	f.Add([]byte(`{"active": false}`))
	f.Add([]byte(`{"active": true, "exp": 1e400}`))
	f.Add([]byte(`{"active": true, "aud": [null]}`))
	f.Add([]byte(`{"active":true}garbage`))
	f.Add([]byte(`{"active": true, "token_type": "refresh_token"}`))
	f.Add([]byte(`{"active": true, "token_type": null}`))
	f.Add([]byte(`{"active": true, "token_type": 7}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeResponse(body)
		if err != nil {
			return
		}
		if tt, ok := r.claims["token_type"].(string); ok && (!r.hasTokenType || r.tokenType != tt) {
			t.Fatalf("token_type %q in the claims but %q (present %v) checked", tt, r.tokenType, r.hasTokenType)
		}
		if _, ok := r.claims["token"]; ok {
			t.Fatal("claims kept the token field")
		}
		if !r.active && (r.sub != "" || r.claims != nil) {
			t.Fatal("inactive response carried fields")
		}
	})
}
