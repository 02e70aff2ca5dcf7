package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"no command prints usage and fails", nil, 2, ""},
		{"an unknown command fails", []string{"serve"}, 2, ""},
		{"version prints the version", []string{"version"}, 0, "portcullis "},
		{"keys without new fails", []string{"keys"}, 2, ""},
		{"keys new needs a consumer", []string{"keys", "new"}, 2, ""},
		{"check reports a missing file", []string{"check", "--config", "/nonexistent/p.yaml"}, 1, ""},
		{"test needs a path", []string{"test"}, 2, ""},
		{"demo token needs the demo keys", []string{"demo", "token", "--dir", "/nonexistent"}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tc.wantCode, tc.wantOut)
			}
		})
	}
}

func TestKeysNewPrintsTheKeyOnceAndOnlyItsHash(t *testing.T) {
	t.Parallel()
	code, out, errOut := run("keys", "new", "--consumer", "partner", "--groups", "read-access, full-access", "--id", "p-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	key := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "): ", 2)[1], "\n", 2)[0])
	if !strings.HasPrefix(key, apikey.KeyPrefix) || strings.Count(out, key) != 1 {
		t.Fatalf("key %q not printed exactly once:\n%s", key, out)
	}
	var record map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &record); err != nil {
		t.Fatalf("record is not JSON: %v\n%s", err, out)
	}
	if _, err := apikey.NewIndex(record); err != nil {
		t.Fatalf("the printed record is not valid consumer data: %v", err)
	}
	if !strings.Contains(out, apikey.Hash(key)) {
		t.Fatalf("the record lacks the key's hash:\n%s", out)
	}
}

func TestDemoTokensAreSignedByTheDemoKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, errOut := run("demo", "keys", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	now := time.Now()
	valid, err := mintDemoToken(dir, "alice", []string{"user-group"}, "user", time.Hour, false, now)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := mintDemoToken(dir, "alice", nil, "user", time.Hour, true, now)
	if err != nil || valid == expired || strings.Count(valid, ".") != 2 {
		t.Fatalf("tokens %q / %q, %v", valid, expired, err)
	}
}
