package server

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestIDsKeepAPlainClientIDAndMakeTheRest(t *testing.T) {
	s := &Server{ridPrefix: "0123456789ab-"}
	long := strings.Repeat("a", 129)
	for _, tc := range []struct {
		name, in string
		kept     bool
	}{
		{"a plain client id is kept", "req-1.a_b:C", true},
		{"128 characters are kept", long[:128], true},
		{"no client id", "", false},
		{"129 characters are replaced", long, false},
		{"a space is not plain", "req 1", false},
		{"a slash is not plain", "a/b", false},
		{"non-ASCII is not plain", "réq", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid, did := s.ids(tc.in)
			if tc.kept && rid != tc.in {
				t.Errorf("request id %q, want the client's %q", rid, tc.in)
			}
			if !tc.kept && (!strings.HasPrefix(rid, s.ridPrefix) || len(rid) == len(s.ridPrefix) || !plainID(rid)) {
				t.Errorf("request id %q, want the prefix %q and a counter", rid, s.ridPrefix)
			}
			u, err := uuid.Parse(did)
			if err != nil || u.Version() != 4 || u.String() != did {
				t.Errorf("decision id %q is not a random UUID in canonical form (%v)", did, err)
			}
		})
	}
	t.Run("each request gets its own ids", func(t *testing.T) {
		seen := map[string]bool{}
		for range 1000 {
			rid, did := s.ids("")
			if seen[rid] || seen[did] {
				t.Fatalf("an id repeated: %q %q", rid, did)
			}
			seen[rid], seen[did] = true, true
		}
	})
}

// appendUUID writes what uuid.UUID.String writes.
func FuzzAppendUUIDIsUUIDString(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("prefix"))
	f.Add(make([]byte, 16), []byte{})
	f.Add([]byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0}, []byte("x"))
	f.Fuzz(func(t *testing.T, raw, prefix []byte) {
		var u uuid.UUID
		copy(u[:], raw)
		got := appendUUID(append([]byte(nil), prefix...), u)
		if want := string(prefix) + u.String(); string(got) != want {
			t.Fatalf("appendUUID = %q, want %q", got, want)
		}
	})
}
