package decisionlog

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// fakeMasker returns fixed ops and records the event it saw.
type fakeMasker struct {
	ops  []policy.MaskOp
	drop bool
	err  error

	mu   sync.Mutex
	seen map[string]any
}

func (f *fakeMasker) MaskActive() bool { return true }

func (f *fakeMasker) Mask(_ context.Context, ev map[string]any) ([]policy.MaskOp, bool, error) {
	f.mu.Lock()
	f.seen = ev
	f.mu.Unlock()
	return f.ops, f.drop, f.err
}

func maskInput() map[string]any {
	return map[string]any{
		"user":  map[string]any{"name": "alice", "password": "hunter2"},
		"items": []any{"a", "b", "c"},
		"a/b":   map[string]any{"~x": 1},
	}
}

func TestMasking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		erase      []string
		masker     *fakeMasker
		wantInput  string // JSON; "" = absent
		wantResult string
		erased     string
		masked     string
		dropped    bool
	}{
		{
			name:      "an erase pointer removes a field and records it",
			erase:     []string{"/input/user/password"},
			wantInput: `{"a/b":{"~x":1},"items":["a","b","c"],"user":{"name":"alice"}}`, wantResult: `{"allow":true}`,
			erased: `["/input/user/password"]`,
		},
		{
			name:      "an undefined erase pointer is ignored and not recorded",
			erase:     []string{"/input/user/missing", "/input/items/7", "/input/user/name/x"},
			wantInput: `{"a/b":{"~x":1},"items":["a","b","c"],"user":{"name":"alice","password":"hunter2"}}`, wantResult: `{"allow":true}`,
		},
		{
			name:      "an array index removes the element and escaped tokens address odd keys",
			erase:     []string{"/input/items/1", "/input/a~1b/~0x"},
			wantInput: `{"a/b":{},"items":["a","c"],"user":{"name":"alice","password":"hunter2"}}`, wantResult: `{"allow":true}`,
			erased: `["/input/items/1","/input/a~1b/~0x"]`,
		},
		{
			name: "mask rule remove and upsert are applied and recorded separately",
			masker: &fakeMasker{ops: []policy.MaskOp{
				{Op: "remove", Path: "/input/user/password"},
				{Op: "upsert", Path: "/input/user/name", Value: "***"},
				{Op: "upsert", Path: "/input/new/deep", Value: map[string]any{"k": 1}},
				{Op: "upsert", Path: "/result/allow", Value: "x"},
			}},
			wantInput:  `{"a/b":{"~x":1},"items":["a","b","c"],"new":{"deep":{"k":1}},"user":{"name":"***"}}`,
			wantResult: `{"allow":"x"}`,
			erased:     `["/input/user/password"]`,
			masked:     `["/input/user/name","/input/new/deep","/result/allow"]`,
		},
		{
			name:       "removing the whole input omits it",
			masker:     &fakeMasker{ops: []policy.MaskOp{{Path: "/input"}}},
			wantResult: `{"allow":true}`,
			erased:     `["/input"]`,
		},
		{
			name:    "a drop result drops the event",
			masker:  &fakeMasker{drop: true},
			dropped: true,
		},
		{
			name:   "a failing mask rule erases input and result entirely",
			masker: &fakeMasker{err: errors.New("eval_conflict_error")},
			erased: `["/input","/result"]`,
		},
		{
			name:   "a mask op outside input and result fails closed",
			masker: &fakeMasker{ops: []policy.MaskOp{{Op: "remove", Path: "/labels/app"}}},
			erased: `["/input","/result"]`,
		},
		{
			name:   "an unknown mask op fails closed",
			masker: &fakeMasker{ops: []policy.MaskOp{{Op: "replace", Path: "/input/user"}}},
			erased: `["/input","/result"]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Erase: tc.erase}
			if tc.masker != nil {
				opts.Masker = tc.masker
			}
			in := maskInput()
			m := logOne(t, opts, &Event{DecisionID: "d", Path: "p", Input: in, Result: map[string]any{"allow": true}})
			if tc.dropped {
				if m != nil {
					t.Fatalf("event written: %v", m)
				}
				return
			}
			if m == nil {
				t.Fatal("event dropped")
			}
			for key, want := range map[string]string{"input": tc.wantInput, "result": tc.wantResult, "erased": tc.erased, "masked": tc.masked} {
				v, ok := m[key]
				got, _ := json.Marshal(v)
				if want == "" && ok {
					t.Errorf("%s = %s, want absent", key, got)
				} else if want != "" && string(got) != want {
					t.Errorf("%s = %s, want %s", key, got, want)
				}
			}
			if pw := in["user"].(map[string]any)["password"]; pw != "hunter2" {
				t.Errorf("the caller's input was modified: password = %v", pw)
			}
		})
	}
}

func TestMaskerSeesTheEventAfterErasing(t *testing.T) {
	t.Parallel()
	fm := &fakeMasker{}
	native := map[string]any{"secret": "s", "keep": "k"}
	input := ast.MustInterfaceToValue(native)
	logOne(t, Options{Erase: []string{"/input/secret"}, Masker: fm, Labels: map[string]string{"app": "gw"}},
		&Event{DecisionID: "d", Path: "p", Input: input, Status: 403})
	fm.mu.Lock()
	seen := fm.seen
	fm.mu.Unlock()
	got, _ := json.Marshal(map[string]any{"input": seen["input"], "erased": seen["erased"], "id": seen["decision_id"],
		"status": seen["portcullis"].(map[string]any)["status"], "app": seen["labels"].(map[string]any)["app"]})
	if want := `{"app":"gw","erased":["/input/secret"],"id":"d","input":{"keep":"k"},"status":403}`; string(got) != want {
		t.Errorf("masker saw %s, want %s", got, want)
	}
	if _, err := ast.InterfaceToValue(seen); err != nil {
		t.Errorf("the event map is not convertible to Rego input: %v", err)
	}
	if s, _ := input.(ast.Object).Get(ast.StringTerm("secret")).Value.(ast.String); s != "s" {
		t.Errorf("the caller's ast input was modified")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		sink SinkOptions // if set, opened instead of New(opts)
		want string
	}{
		{"an erase pointer outside input and result", Options{Erase: []string{"/labels/app"}}, nil, `erase[0]: invalid json pointer "/labels/app": must be under /input or /result`},
		{"an erase pointer without a leading slash", Options{Erase: []string{"input/x"}}, nil, `must start with /`},
		{"a bad escape in an erase pointer", Options{Erase: []string{"/input/a~2"}}, nil, `"~" must be followed by 0 or 1`},
		{"a sample rate above one", Options{SampleAllow: 1.5}, nil, `sample.allow: 1.5 is out of range (want 0..1)`},
		{"a plain http collector without allow_insecure_http", Options{}, HTTPOptions{URL: "http://127.0.0.1:1/"}, `http.url: scheme "http" (want https, or http with allow_insecure_http)`},
		{"an unknown format", Options{}, HTTPOptions{URL: "https://x/", Format: "xml"}, `http.format: "xml" (want "ndjson", "opa", "splunk_hec" or "elasticsearch_bulk")`},
		{"bearer and basic together", Options{}, HTTPOptions{URL: "https://x/", BearerToken: "t", Username: "u"}, `cannot be combined`},
		{"a missing CA file", Options{}, withHTTP(func(o *HTTPOptions) { o.CAFile = "/nonexistent/ca.pem" }), `http.ca_file`},
		{"an http sink without a queue size is refused, not defaulted", Options{}, withHTTP(func(o *HTTPOptions) { o.QueueEvents = 0 }), `http.queue_events: 0 (want at least 1)`},
		{"an http sink without a flush interval", Options{}, withHTTP(func(o *HTTPOptions) { o.FlushInterval = 0 }), `http.flush_interval: 0s (want a positive duration)`},
		{"an http sink without on_full", Options{}, withHTTP(func(o *HTTPOptions) { o.OnFull = "" }), `http.on_full: "" (want "drop_oldest" or "fail_closed")`},
		{"a spool without a size", Options{}, withHTTP(func(o *HTTPOptions) { o.SpoolDir, o.SpoolMaxBytes = "/tmp/x", 0 }), `http.spool_max_bytes: 0`},
		{"a file sink without a rotation size", Options{}, FileOptions{Path: "/tmp/d.log", MaxAge: time.Hour}, `file.max_size: 0 (want at least 1 byte)`},
		{"a file sink without a maximum age", Options{}, FileOptions{Path: "/tmp/d.log", MaxSize: 1}, `file.max_age: 0s (want a positive duration)`},
		{"a file sink without a path", Options{}, FileOptions{MaxSize: 1, MaxAge: time.Hour}, `file.path: is required`},
		{"a syslog sink without a timeout", Options{}, SyslogOptions{Address: "127.0.0.1:514"}, `syslog.timeout: 0s (want a positive duration)`},
		{"a syslog CA without TLS", Options{}, SyslogOptions{Address: "127.0.0.1:514", Timeout: time.Second, CAFile: "ca.pem"}, `syslog.ca_file: is set but tls is false`},
		{"a stdout sink without a writer", Options{}, StdoutOptions{}, `stdout: no writer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.sink != nil {
				_, err = tc.sink.Open(Env{})
			} else {
				_, err = New(tc.opts)
			}
			if err == nil || !contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// withHTTP returns valid HTTP options changed by set.
func withHTTP(set func(o *HTTPOptions)) HTTPOptions {
	o := HTTPOptions{URL: "https://x/", Format: FormatNDJSON, BatchEvents: 1, BatchBytes: 1, FlushInterval: time.Second,
		Timeout: time.Second, QueueEvents: 1, MaxRetryDelay: time.Second, OnFull: OnFullDropOldest}
	set(&o)
	return o
}

// ctxMasker fails as the engine does when its context is cancelled
// (topdown stops the evaluation), and records a value of the context.
type ctxMasker struct {
	fakeMasker
	value any
}

type ctxKey struct{}

func (c *ctxMasker) Mask(ctx context.Context, ev map[string]any) ([]policy.MaskOp, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	c.value = ctx.Value(ctxKey{})
	c.mu.Unlock()
	return c.fakeMasker.Mask(ctx, ev)
}

// A client that disconnects cancels the request's context before its event
// is logged; the mask rule must still run, not fail closed or drop it.
func TestAClientThatLeftStillGetsItsEventMasked(t *testing.T) {
	t.Parallel()
	cm := &ctxMasker{fakeMasker: fakeMasker{ops: []policy.MaskOp{{Op: "upsert", Path: "/input/user/name", Value: "***"}}}}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "trace"))
	cancel()
	var out syncBuffer
	l := newTestLogger(t, Options{Masker: cm}, StdoutOptions{W: &out})
	l.Log(ctx, &Event{DecisionID: "gone", Path: "p", Input: maskInput()})
	closeLogger(t, l)
	var m map[string]any
	if err := json.Unmarshal([]byte(out.String()), &m); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	in, _ := m["input"].(map[string]any)
	got, _ := json.Marshal(map[string]any{"input": in["user"], "masked": m["masked"], "erased": m["erased"]})
	if want := `{"erased":null,"input":{"name":"***","password":"hunter2"},"masked":["/input/user/name"]}`; string(got) != want {
		t.Errorf("event %s, want %s", got, want)
	}
	if cm.value != "trace" {
		t.Errorf("the mask rule's context lost the request's values: %v", cm.value)
	}
	if v := value(l.m.maskErrors); v != 0 {
		t.Errorf("mask errors = %v, want 0", v)
	}
}
