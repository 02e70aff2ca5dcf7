package bundle

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// canonicalSeeds are JSON documents whose canonical form must be
// json.Marshal's.
var canonicalSeeds = []string{
	`null`, `true`, `false`, `0`, `-1.50e+10`, `123456789012345678901234567890`, `""`,
	`"plain"`, `"quote \" backslash \\ slash /"`, `"\b\f\n\r\t\u0000\u001f\u007f"`,
	`"<script>&amp;</script>"`, `"\u2028\u2029 é 日本 🎉"`, "\"\xff\xfe invalid \xc3\"",
	`[]`, `[1, "a", [null, {}], {"b": [true]}]`, `{}`,
	`{"z": 1, "a": {"y": [1, 2], "b": "c"}, "": "", "é": 1, "A": 2, "<": "&"}`,
}

func TestCanonicalJSONIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, s := range canonicalSeeds {
		checkCanonical(t, []byte(s))
	}
	for _, v := range []any{json.Number(""), map[string]any(nil), []any(nil), map[string]any{"f": 1.5, "i": 3, "s": []string{"x"}}} {
		want, _ := json.Marshal(v)
		got, err := canonicalJSON(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("canonicalJSON(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
	if _, err := canonicalJSON(json.Number("1x")); err == nil {
		t.Error("an invalid number was accepted")
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkCanonical(t, raw)
	})
}

// checkCanonical decodes raw as the bundle reader does (numbers kept as
// written) and compares canonicalJSON with json.Marshal.
func checkCanonical(t *testing.T, raw []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return
	}
	want, wantErr := json.Marshal(v)
	got, err := canonicalJSON(v)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("canonicalJSON(%s)\n= %s, %v\nwant %s, %v", strings.TrimSpace(string(raw)), got, err, want, wantErr)
	}
}
