package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestHoldKeepsDataRaw(t *testing.T) {
	t.Parallel()
	consumers := `{"a": {"keys": []}}`
	tests := []struct {
		name     string
		files    map[string]string
		wantData string            // the decoded data, as JSON
		wantHeld map[string]string // held data path -> raw JSON
	}{
		{
			"a file at the held path",
			map[string]string{"portcullis/consumers/data.json": consumers, "portcullis/data.json": `{"n": 1}`},
			`{"portcullis": {"n": 1}}`,
			map[string]string{"portcullis/consumers": consumers},
		},
		{
			"files below the held path",
			map[string]string{"portcullis/consumers/a/data.json": `{"keys": []}`, "portcullis/consumers/b/data.yaml": "keys: []\n"},
			`{}`,
			map[string]string{"portcullis/consumers/a": `{"keys": []}`, "portcullis/consumers/b": `{"keys":[]}`},
		},
		{
			"a file above it, cut out",
			map[string]string{"data.json": `{"portcullis": {"consumers": {"a": {"keys": []}}, "other": [1]}}`},
			`{"portcullis": {"other": [1]}}`,
			map[string]string{"portcullis/consumers": `{"a": {"keys": []}}`}, // the file's own bytes
		},
		{
			"a YAML file above it, cut out",
			map[string]string{"portcullis/data.yaml": "consumers:\n  a: {keys: []}\nother: 1\n"},
			`{"portcullis": {"other": 1}}`,
			map[string]string{"portcullis/consumers": `{"a":{"keys":[]}}`},
		},
		{
			// encoding/json (so OPA) keeps the last of repeated keys: so
			// must the held copy, not the first and not both.
			"a file above it repeating the held key",
			map[string]string{"data.json": `{"portcullis": {"consumers": {"a": {"keys": []}}, "consumers": {"b": {"keys": []}}}}`},
			`{"portcullis": {}}`,
			map[string]string{"portcullis/consumers": `{"b":{"keys":[]}}`},
		},
		{
			"a file above it repeating a key on the way",
			map[string]string{"data.json": `{"portcullis": {"consumers": {"a": {"keys": []}}}, "portcullis": {"consumers": {"b": {"keys": []}}}}`},
			`{"portcullis": {}}`,
			map[string]string{"portcullis/consumers": `{"b":{"keys":[]}}`},
		},
		{
			"a file above it without the held path",
			map[string]string{"portcullis/data.json": `{"other": true}`},
			`{"portcullis": {"other": true}}`,
			map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{".manifest": `{"revision": "r", "roots": ["portcullis"]}`}
			if strings.HasPrefix(tc.name, "a file above it, cut out") || strings.HasPrefix(tc.name, "a file above it repeating") {
				files[".manifest"] = `{"revision": "r"}`
			}
			for k, v := range tc.files {
				files[k] = v
			}
			dir := writeFiles(t, t.TempDir(), files)
			ls, err := Load(context.Background(), []Source{{Path: dir}}, Options{MaxBytes: 1 << 20, Hold: []string{"portcullis.consumers"}})
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal([]byte(tc.wantData), &want); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(ls[0].Data)
			var gotV any
			_ = json.Unmarshal(got, &gotV)
			if !reflect.DeepEqual(gotV, want) {
				t.Errorf("data = %s, want %s", got, tc.wantData)
			}
			held := map[string]string{}
			for _, h := range ls[0].Held {
				held[strings.Join(h.Path, "/")] = string(h.Raw)
				if h.Sum != sha256.Sum256(h.Raw) {
					t.Errorf("%s: sum is not the SHA-256 of the bytes", h.File)
				}
				if !strings.HasPrefix(h.File, dir) {
					t.Errorf("file %q is not in the bundle", h.File)
				}
			}
			if len(ls[0].Held) != len(tc.wantHeld) {
				t.Errorf("%d held files, want %d", len(ls[0].Held), len(tc.wantHeld))
			}
			if !reflect.DeepEqual(held, tc.wantHeld) {
				t.Errorf("held = %v, want %v", held, tc.wantHeld)
			}
		})
	}
}

func TestHoldErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a bad data file outside the held path is located", map[string]string{".manifest": manifest, "portcullis/data.json": "{\n  \"a\": ,\n}"}, filepath.Join("portcullis", "data.json") + ":2:"},
		{"held data outside the roots", map[string]string{".manifest": `{"revision": "r", "roots": ["other"]}`, "portcullis/consumers/data.json": "{}"}, "do not permit data at path /portcullis/consumers"},
		{"conflicting data files", map[string]string{".manifest": manifest, "data.json": `{"portcullis": {"x": 1}}`, "portcullis/x/data.json": `{}`}, "data conflict at /portcullis/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, t.TempDir(), tc.files)
			_, err := Load(context.Background(), []Source{{Path: dir}}, Options{MaxBytes: 1 << 20, Hold: []string{"portcullis.consumers"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestHoldCountsInTheContentHash(t *testing.T) {
	t.Parallel()
	load := func(consumers string) string {
		dir := writeFiles(t, t.TempDir(), map[string]string{".manifest": manifest, "portcullis/consumers/data.json": consumers})
		ls, err := Load(context.Background(), []Source{{Path: dir}}, Options{MaxBytes: 1 << 20, Hold: []string{"portcullis.consumers"}})
		if err != nil {
			t.Fatal(err)
		}
		return ls[0].Hash
	}
	if load(`{"a": {}}`) == load(`{"b": {}}`) {
		t.Fatal("a change to held data does not change the bundle hash")
	}
}
