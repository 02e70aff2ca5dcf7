package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"
)

// logOf is the JSON lines of a mixed log: reads and writes of a read-only
// and a full-access consumer, one refusal before the policy, one event of
// another decision rule and a torn line.
func logOf() []byte {
	lines := [][]byte{
		event("r1", "GET", "read-access", allowed, "allow"),
		event("r2", "POST", "read-access", denied, "policy_deny"),
		event("f1", "GET", "full-access", allowed, "allow"),
		event("f2", "DELETE", "full-access", allowed, "allow"),
		event("n1", "GET", "read-access", nil, "token_missing"),
		bytes.Replace(event("o1", "GET", "read-access", allowed, "allow"), []byte(`"portcullis/authz/decision"`), []byte(`"old/decision"`), 1),
		[]byte(`{"decision_id":"torn","input":{`),
		event("r3", "GET", "read-access", allowed, "allow"),
	}
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

func TestRunReportsTheDecisionsThatChange(t *testing.T) {
	t.Parallel()
	same, _ := newEngine(t, readOnlyPolicy)
	narrower, _ := newEngine(t, noReadPolicy)
	tests := []struct {
		name        string
		opts        Options
		toDeny      []string
		toAllow     int
		wantSkipped map[string]int
	}{
		{"the bundle that made the log changes nothing", Options{Engine: same}, nil, 0,
			map[string]int{SkipNotEvaluated: 1, SkipOtherRule: 1, SkipMalformed: 1}},
		{"a bundle without the read rule denies the read-only GETs", Options{Engine: narrower}, []string{"r1", "r3"}, 0,
			map[string]int{SkipNotEvaluated: 1, SkipOtherRule: 1, SkipMalformed: 1}},
		{"one worker reports the same", Options{Engine: narrower, Workers: 1}, []string{"r1", "r3"}, 0,
			map[string]int{SkipNotEvaluated: 1, SkipOtherRule: 1, SkipMalformed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Decision, tc.opts.Examples = "data.portcullis.authz.decision", 5
			rep, err := Run(context.Background(), tc.opts, []Input{{Name: "day.log", R: bytes.NewReader(logOf())}})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range rep.AllowToDeny.Examples {
				ids = append(ids, e.DecisionID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.toDeny, ",") || rep.AllowToDeny.Total != len(tc.toDeny) {
				t.Errorf("allow→deny %d %v, want %v", rep.AllowToDeny.Total, ids, tc.toDeny)
			}
			if rep.DenyToAllow.Total != tc.toAllow {
				t.Errorf("deny→allow %d, want %d", rep.DenyToAllow.Total, tc.toAllow)
			}
			if rep.Events != 8 || rep.Replayed != 5 {
				t.Errorf("events %d replayed %d, want 8 and 5", rep.Events, rep.Replayed)
			}
			for k, n := range tc.wantSkipped {
				if rep.Skipped[k] != n {
					t.Errorf("skipped[%s] = %d, want %d (%v)", k, rep.Skipped[k], n, rep.Skipped)
				}
			}
			if rep.NotEvaluated["token_missing"] != 1 {
				t.Errorf("not evaluated %v, want token_missing=1", rep.NotEvaluated)
			}
			if len(rep.Malformed) != 1 || !strings.HasPrefix(rep.Malformed[0], "day.log:7: ") {
				t.Errorf("malformed %q, want day.log:7", rep.Malformed)
			}
			if len(tc.toDeny) > 0 {
				e := rep.AllowToDeny.Examples[0]
				if e.Method != "GET" || e.Path != "/api/v1/users" || e.Subject != "partner-read-access" ||
					strings.Join(e.NewReasons, ",") != "read_denied" || rep.AllowToDeny.ByReason["read_denied"] != 2 ||
					rep.AllowToDeny.ByRoute["users-api"] != 2 {
					t.Errorf("example %+v, by reason %v", e, rep.AllowToDeny.ByReason)
				}
			}
		})
	}
}

func TestRunWidening(t *testing.T) {
	t.Parallel()
	// The log made by noReadPolicy, replayed against readOnlyPolicy: the
	// read-only consumer's denied GET becomes an allow.
	eng, _ := newEngine(t, readOnlyPolicy)
	log := event("w1", "GET", "read-access", map[string]any{"allow": false, "reasons": []string{"read_denied"}}, "policy_deny")
	rep, err := Run(context.Background(), Options{Engine: eng, Decision: "data.portcullis.authz.decision", Examples: 1},
		[]Input{{Name: "x", R: bytes.NewReader(log)}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.DenyToAllow.Total != 1 || rep.DenyToAllow.ByReason["read_denied"] != 1 || rep.AllowToDeny.Total != 0 {
		t.Fatalf("report %+v %+v", rep.DenyToAllow, rep.AllowToDeny)
	}
}

func TestReadFormats(t *testing.T) {
	t.Parallel()
	lines := logOf()
	var array bytes.Buffer
	array.WriteString("[")
	for i, l := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
		if bytes.HasPrefix(l, []byte(`{"decision_id":"torn"`)) {
			continue // an array with a torn element cannot be read on
		}
		if i > 0 {
			array.WriteString(",\n")
		}
		array.Write(l)
	}
	array.WriteString("]")
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		zw.Write(b)
		zw.Close()
		return out.Bytes()
	}
	tests := []struct {
		name    string
		data    []byte
		want    int
		wantPos string
		wantErr string
	}{
		{"JSON lines", lines, 8, "f:8", ""},
		{"JSON lines with blank lines and CRLF", bytes.ReplaceAll(lines, []byte("\n"), []byte("\r\n\r\n")), 8, "f:15", ""},
		{"gzipped JSON lines (a rotated file)", gz(lines), 8, "f:8", ""},
		{"a JSON array", array.Bytes(), 7, "f:#7", ""},
		{"OPA's upload format: a gzipped JSON array", gz(array.Bytes()), 7, "f:#7", ""},
		{"an empty file", nil, 0, "", ""},
		{"an empty array", []byte(" [ ] "), 0, "", ""},
		{"a torn array", []byte(`[{"decision_id":"a"},{"decision_id":`), 1, "f:#1", "f:#2: unexpected EOF"},
		{"a torn gzip stream", gz(lines)[:40], 0, "", "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []Record
			err := Read(bytes.NewReader(tc.data), "f", func(r Record) { got = append(got, r) })
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if len(got) != tc.want {
				t.Fatalf("%d records, want %d", len(got), tc.want)
			}
			if len(got) > 0 && got[len(got)-1].Pos != tc.wantPos {
				t.Errorf("last position %s, want %s", got[len(got)-1].Pos, tc.wantPos)
			}
		})
	}
}
