package replay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestParseEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		line        string
		wantErr     string
		reached     bool
		allow       bool
		reasons     string
		masked      bool
		erased      bool
		wantOutcome string
	}{
		{"an allowed request carries its result", string(event("a", "GET", "read-access", allowed, "allow")), "", true, true, "", false, false, "allow"},
		{"a policy deny carries its reasons", string(event("d", "POST", "read-access", denied, "policy_deny")), "", true, false, "denied", false, false, "policy_deny"},
		{"a boolean result", `{"decision_id":"b","path":"p","input":{},"result":true,"portcullis":{"reasons":["allow"]}}`, "", true, true, "", false, false, "allow"},
		{"a result outside the contract is an invalid-result deny", `{"decision_id":"b","input":{},"result":"yes","portcullis":{"reasons":["policy_invalid_result","policy_invalid_result"]}}`, "", true, false, "policy_invalid_result", false, false, "policy_invalid_result"},
		{"a timeout reached the policy without a result", `{"decision_id":"t","input":{},"error":{"message":"x"},"portcullis":{"reasons":["policy_timeout","policy_timeout"]}}`, "", true, false, "policy_timeout", false, false, "policy_timeout"},
		{"a refusal before the policy", string(event("n", "GET", "read-access", nil, "token_invalid")), "", false, false, "", false, false, "token_invalid"},
		{"an upstream failure after an allow keeps the policy's allow", `{"decision_id":"u","input":{},"result":{"allow":true},"portcullis":{"allow":false,"reasons":["upstream_unreachable"]}}`, "", true, true, "", false, false, "upstream_unreachable"},
		{"a masked input is replayed as logged", `{"decision_id":"m","input":{},"result":true,"masked":["/input/request/headers"],"portcullis":{"reasons":["allow"]}}`, "", true, true, "", true, false, "allow"},
		{"an erased result records nothing", `{"decision_id":"e","input":{},"erased":["/result"],"portcullis":{"reasons":["allow"]}}`, "", false, false, "", false, true, "allow"},
		{"a line without decision_id", `{"input":{}}`, "no decision_id", false, false, "", false, false, ""},
		{"an input that is not an object", `{"decision_id":"x","input":[1]}`, "input is array", false, false, "", false, false, ""},
		{"not JSON", `{"decision_id":`, "unexpected end", false, false, "", false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseEvent([]byte(tc.line), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (ev.Recorded != nil) != tc.reached || ev.Masked != tc.masked || ev.ResultErased != tc.erased || ev.Outcome != tc.wantOutcome {
				t.Fatalf("event %+v", ev)
			}
			if ev.Recorded != nil && (ev.Recorded.Allow != tc.allow || strings.Join(ev.Recorded.Reasons, ",") != tc.reasons) {
				t.Fatalf("recorded %+v, want allow %v reasons %q", ev.Recorded, tc.allow, tc.reasons)
			}
		})
	}
}

// FuzzRead feeds arbitrary logs to the reader and the event parser: they
// must not panic, and every record of JSON lines is a non-empty line.
func FuzzRead(f *testing.F) {
	f.Add(logOf())
	f.Add([]byte(`[{"decision_id":"a","input":{"request":{"method":1}},"result":{"allow":"x"}}]`))
	f.Add([]byte("\x1f\x8b"))
	f.Add([]byte(`{"decision_id":"a","input":{"request":[]},"result":{"allowed":true,"http_status":99}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Read(bytes.NewReader(data), "f", func(r Record) {
			if len(r.Data) == 0 {
				t.Fatalf("empty record at %s", r.Pos)
			}
			if ev, err := ParseEvent(r.Data, nil); err == nil && ev.DecisionID == "" {
				t.Fatalf("event without decision_id from %q", r.Data)
			}
		})
	})
}

// FuzzParser checks the event reader's JSON parser against encoding/json
// and OPA: it accepts exactly the valid JSON texts and builds the value
// ast.ValueFromReader builds.
func FuzzParser(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0.5e+3,true,null,"x\u00e9\n"]}`, `"\ud800"`, "\"\xff\"", `01`, `[1,]`, `{"a":1,"a":2}`, ` 1e5 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &parser{b: data}
		v, err := p.value(keepAll)
		if err == nil {
			err = p.end()
		}
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("parser err %v, json.Valid %v for %q", err, valid, data)
		}
		if err != nil {
			return
		}
		want, werr := ast.ValueFromReader(bytes.NewReader(data))
		if werr != nil {
			t.Skip(werr) // OPA refuses what encoding/json accepts (numbers out of range)
		}
		if want.Compare(v) != 0 {
			t.Fatalf("parsed %v, OPA %v from %q", v, want, data)
		}
	})
}

func TestParseEventKeepsOnlyWhatThePolicyReads(t *testing.T) {
	t.Parallel()
	line := event("k", "GET", "read-access", allowed, "allow")
	tests := []struct {
		name string
		keep *Keep
		want string
	}{
		{"nil keeps the whole input", nil, ""},
		{"two paths", NewKeep([]string{"request", "method"}, []string{"identity", "groups"}),
			`{"identity": {"groups": ["read-access"]}, "request": {"method": "GET"}}`},
		{"a path inside a kept path changes nothing", NewKeep([]string{"route"}, []string{"route", "name"}), `{"route": {"name": "users-api"}}`},
		{"nothing", NewKeep(), `{}`},
	}
	full, err := ParseEvent(line, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseEvent(line, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = full.Input.String()
				if !strings.Contains(want, `"id": "req-k"`) {
					t.Fatalf("the whole input lacks request.id: %s", want)
				}
			}
			if got := ev.Input.String(); got != want {
				t.Fatalf("input %s, want %s", got, want)
			}
		})
	}
}

// TestParseEventTellsShadowEvents: the extra event a shadow bundle writes
// for a divergence carries portcullis.shadow and is not the request's own.
func TestParseEventTellsShadowEvents(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]bool{
		`{"decision_id":"s","input":{},"result":true,"portcullis":{"reasons":["allow"],"shadow":{"allow":false,"outcome":"allow_to_deny"}}}`: true,
		`{"decision_id":"s","input":{},"result":true,"portcullis":{"reasons":["allow"],"shadow":null}}`:                                      false,
		`{"decision_id":"s","input":{},"result":true,"portcullis":{"reasons":["allow"]}}`:                                                    false,
	} {
		ev, err := ParseEvent([]byte(line), nil)
		if err != nil || ev.Shadow != want {
			t.Errorf("%s: Shadow = %v (%v), want %v", line, ev != nil && ev.Shadow, err, want)
		}
	}
}
