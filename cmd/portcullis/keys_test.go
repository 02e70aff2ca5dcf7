package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// authenticate checks key against consumers (decoded bundle data) at now,
// with the authenticator the gateway uses; it returns the consumer or the
// reason code of the rejection.
func authenticate(t *testing.T, consumers any, key string, now time.Time) string {
	t.Helper()
	x, err := apikey.NewIndex(consumers)
	if err != nil {
		t.Fatalf("NewIndex: %v", err)
	}
	a := apikey.New(apikey.Options{Now: func() time.Time { return now }})
	a.SetIndex(x)
	id, err := a.Authenticate(context.Background(), pipeline.Credential{Kind: "api_key", Source: "header", Value: key})
	if err != nil {
		p, ok := err.(*problem.Problem)
		if !ok {
			t.Fatalf("Authenticate: %v", err)
		}
		return string(p.Reason)
	}
	return id.Consumer
}

func TestKeysNewJSONWithValidity(t *testing.T) {
	t.Parallel()
	code, out, errOut := run("keys", "new", "--json", "--consumer", "partner", "--groups", "read-access",
		"--id", "p-1", "--not-before", "2026-01-01T02:00:00+02:00", "--expires", "2099-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Key    string         `json:"key"`
		Record map[string]any `json:"record"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON object (%v):\n%s", err, out)
	}
	k := got.Record["partner"].(map[string]any)["keys"].([]any)[0].(map[string]any)
	if k["not_before"] != "2026-01-01T00:00:00Z" || k["expires_at"] != "2099-01-01T00:00:00Z" || k["hash"] != apikey.Hash(got.Key) {
		t.Fatalf("key record %v", k)
	}
	for now, want := range map[time.Time]string{
		time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC): apikey.ReasonNotYetValid,
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC):   "partner",
		time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC):   apikey.ReasonExpired,
	} {
		if got := authenticate(t, got.Record, got.Key, now); got != want {
			t.Errorf("at %s: %s, want %s", now, got, want)
		}
	}
}

func TestKeysNewDurationsAreFromNow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"720h":                      "2026-05-01T12:00:00Z",
		"-1h30m":                    "2026-04-01T10:30:00Z",
		"2026-07-01T00:00:00.9Z":    "2026-07-01T00:00:00Z",
		"2026-07-01T02:00:00+02:00": "2026-07-01T00:00:00Z",
	} {
		got, err := parseWhen(in, now)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("parseWhen(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseWhen("30d", now); err == nil {
		t.Error("30d parsed")
	}
}

// dataFile writes content to a data.json of mode 0640 in a fresh directory.
func dataFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func consumersIn(t *testing.T, p string) any {
	t.Helper()
	doc, err := decodeJSON([]byte(readFile(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	return doc.(map[string]any)["portcullis"].(map[string]any)["consumers"]
}

func TestKeysNewMergesIntoData(t *testing.T) {
	t.Parallel()
	p := dataFile(t, readFile(t, "testdata/keys-new-before.json"))
	code, out, errOut := run("keys", "new", "--consumer", "new-partner", "--groups", "read-access,reports", "--id", "np-1",
		"--not-before", "2026-01-01T00:00:00Z", "--expires", "2099-01-01T00:00:00Z", "--data", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	key := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "): ", 2)[1], "\n", 2)[0])
	after := readFile(t, p)
	if strings.Contains(after, key) || strings.Count(out, key) != 1 {
		t.Fatalf("the key is in the file, or not printed once:\n%s", out)
	}
	// Golden: the original bytes plus the new consumer's lines, nothing else.
	want := strings.Replace(readFile(t, "testdata/keys-new-after.json"), "HASH", apikey.Hash(key), 1)
	if after != want {
		t.Fatalf("data.json after the merge:\n%s\nwant:\n%s", after, want)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v; want 0640 kept", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	consumers := consumersIn(t, p)
	if got := authenticate(t, consumers, key, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)); got != "new-partner" {
		t.Fatalf("the printed key authenticates as %q", got)
	}
	if x, _ := apikey.NewIndex(consumers); x.Len() != 3 {
		t.Fatalf("%d keys, want the 2 there were and the new one", x.Len())
	}
}

func TestKeysNewRefusesAndLeavesDataAlone(t *testing.T) {
	t.Parallel()
	before := readFile(t, "testdata/keys-new-before.json")
	broken := strings.Replace(before, `"hash": "sha256:fa76`, `"hash": "sha1:fa76`, 1)
	tests := []struct {
		name, content string
		args          []string
		wantErr       string
	}{
		{"a consumer that exists", before, []string{"--consumer", "internal-service"}, `consumer "internal-service" already exists`},
		{"a key id in use", before, []string{"--consumer", "other", "--id", "partner-2026-04"}, `key id "partner-2026-04" is already used by consumer "read-only-partner"`},
		{"a result that does not load", broken, []string{"--consumer", "other"}, "would not load"},
		{"a path through a non-object", `{"portcullis": {"consumers": []}}`, []string{"--consumer", "other"}, "portcullis.consumers is not an object"},
		{"a file that is not JSON", `{"portcullis": `, []string{"--consumer", "other"}, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := dataFile(t, tc.content)
			code, out, errOut := run(append([]string{"keys", "new", "--data", p}, tc.args...)...)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1, no key printed, and %q", code, out, errOut, tc.wantErr)
			}
			if readFile(t, p) != tc.content {
				t.Fatal("the file was changed")
			}
			if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
				t.Fatalf("temporary files left: %v", ents)
			}
		})
	}
	if code, _, errOut := run("keys", "new", "--consumer", "c", "--data", filepath.Join(t.TempDir(), "none.json")); code != 1 {
		t.Fatalf("a missing file: exit %d, %s", code, errOut)
	}
}

func TestKeysNewCreatesTheConsumersPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, before, path, want string }{
		{"an empty object", "{}\n", "portcullis.consumers", `{
  "portcullis": {
    "consumers": {
      "c": {
        "groups": [],
        "keys": [{"id": "c-1", "hash": "HASH"}]
      }
    }
  }
}
`},
		{"a sibling kept", "{\n    \"other\": 1\n}\n", "consumers", `{
    "consumers": {
        "c": {
            "groups": [],
            "keys": [{"id": "c-1", "hash": "HASH"}]
        }
    },
    "other": 1
}
`},
		{"one line", `{"portcullis": {"consumers": {"b": {}}}}`, "portcullis.consumers",
			`{"portcullis": {"consumers": {"c": {"groups": [], "keys": [{"id": "c-1", "hash": "HASH"}]}, "b": {}}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := dataFile(t, tc.before)
			code, out, errOut := run("keys", "new", "--json", "--consumer", "c", "--id", "c-1", "--path", tc.path, "--data", p)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got struct{ Key string }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if after := readFile(t, p); after != strings.Replace(tc.want, "HASH", apikey.Hash(got.Key), 1) {
				t.Fatalf("got:\n%s\nwant:\n%s", after, tc.want)
			}
		})
	}
}
