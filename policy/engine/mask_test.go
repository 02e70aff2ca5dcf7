package engine

import (
	"context"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

func TestMask(t *testing.T) {
	t.Parallel()
	maskRego := `package system.log

mask contains "/input/request/body/password"

mask contains {"op": "upsert", "path": "/input/identity/subject", "value": "redacted"} if input.input.identity.subject != ""

drop if input.input.request.path == "/healthz"
`
	dir := authzBundle(t, "r", "decision := true")
	writeFiles(t, dir, map[string]string{
		".manifest":            `{"revision": "r", "roots": ["portcullis", "system"]}`,
		"system/log/mask.rego": maskRego,
	})
	e := newEngine(t, Options{Sources: sources(dir)})
	event := func(path string) map[string]any {
		in := typicalInput()
		in.Request.Path = path
		return map[string]any{"decision_id": "x", "input": InputValue(in), "result": true}
	}
	tests := []struct {
		name     string
		event    map[string]any
		wantOps  []policy.MaskOp
		wantDrop bool
	}{
		{"pointers and upserts become ops", event("/api/v1/users"), []policy.MaskOp{
			{Op: "remove", Path: "/input/request/body/password"},
			{Op: "upsert", Path: "/input/identity/subject", Value: "redacted"},
		}, false},
		{"the drop rule drops the event", event("/healthz"), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ops, drop, err := e.Mask(context.Background(), tc.event)
			if err != nil {
				t.Fatal(err)
			}
			if drop != tc.wantDrop || !reflect.DeepEqual(ops, tc.wantOps) {
				t.Errorf("Mask = %+v, %v; want %+v, %v", ops, drop, tc.wantOps, tc.wantDrop)
			}
		})
	}
}

func TestMaskWithoutRulesDoesNothing(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(authzBundle(t, "r", "decision := true"))})
	ops, drop, err := e.Mask(context.Background(), map[string]any{"input": map[string]any{}})
	if ops != nil || drop || err != nil {
		t.Errorf("Mask = %v, %v, %v", ops, drop, err)
	}
	if e.state.Load().mask != nil || e.state.Load().drop != nil || e.MaskActive() {
		t.Error("mask or drop prepared without rules")
	}
}

func TestExampleMaskBundleMasksPasswords(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(exampleBundle, "../../bundles/logmask")})
	withPassword := map[string]any{"input": map[string]any{"request": map[string]any{"body": map[string]any{"password": "x"}}}}
	if !e.MaskActive() {
		t.Fatal("MaskActive is false with a mask rule")
	}
	ops, drop, err := e.Mask(context.Background(), withPassword)
	want := []policy.MaskOp{{Op: "remove", Path: "/input/request/body/password"}}
	if err != nil || drop || !reflect.DeepEqual(ops, want) {
		t.Errorf("Mask = %v, %v, %v", ops, drop, err)
	}
	ops, _, err = e.Mask(context.Background(), map[string]any{"input": map[string]any{}})
	if err != nil || len(ops) != 0 {
		t.Errorf("Mask without a password = %v, %v", ops, err)
	}
}

func TestMalformedMaskEntriesAreErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
	}{
		{"a number", []any{1.0}},
		{"an unknown op", []any{map[string]any{"op": "replace", "path": "/input"}}},
		{"a missing path", []any{map[string]any{"op": "remove"}}},
		{"not a set", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := maskOps(tc.v); err == nil {
				t.Error("no error")
			}
		})
	}
}
