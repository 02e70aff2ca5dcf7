package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/server"
	"github.com/portcullis/portcullis/policy/engine"
)

// cmdTest runs the Rego tests of bundles in-process, like `opa test`.
func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test", stderr)
	verbose := fs.Bool("v", false, "print every test, not only failures")
	run := fs.String("run", "", "regular expression selecting tests")
	if code := parseFlags(fs, args); code != 0 {
		return max(code, 0)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: portcullis test [-v] [-run REGEX] PATH...")
		return 2
	}
	ok, err := engine.RunTests(context.Background(), fs.Args(), stdout, engine.TestOptions{Verbose: *verbose, Run: *run})
	if err != nil {
		fmt.Fprintf(stderr, "portcullis test: %v\n", err)
		return 1
	}
	if !ok {
		return 2
	}
	return 0
}

// cmdEval evaluates the configured decision rule on an input document or
// on a decision-log event (its "input" is used).
func cmdEval(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval", stderr)
	cfgPath := configFlag(fs)
	inputPath := fs.String("input", "", "input document or decision-log event (JSON); - for stdin")
	if code := parseFlags(fs, args); code != 0 {
		return max(code, 0)
	}
	if *inputPath == "" {
		fmt.Fprintln(stderr, "usage: portcullis eval --config FILE --input input.json")
		return 2
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return 1
	}
	var raw []byte
	var err error
	if *inputPath == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
	} else {
		raw, err = os.ReadFile(*inputPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis eval: %v\n", err)
		return 1
	}
	input, err := evalInput(raw)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis eval: %s: %v\n", *inputPath, err)
		return 1
	}
	ctx := context.Background()
	eng, err := engine.New(ctx, server.EngineOptions(cfg, nil, zerolog.Nop()))
	if err != nil {
		fmt.Fprintf(stderr, "portcullis eval: %v\n", err)
		return 1
	}
	d := eng.EvaluateValue(ctx, input)
	out := map[string]any{
		"decision_id": uuid.NewString(),
		"allow":       d.Allow,
		"reasons":     d.Reasons,
		"result":      resultJSON(d.Result),
		"bundles":     d.Bundles,
		"eval":        d.Eval.Round(time.Microsecond).String(),
	}
	if d.Status != 0 {
		out["status"] = d.Status
	}
	if d.Err != nil {
		out["error"] = d.Err.Error()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	if !d.Allow {
		return 3
	}
	return 0
}

// evalInput accepts an input document, or a decision-log event whose
// "input" field holds one (events carry decision_id and input).
func evalInput(raw []byte) (ast.Value, error) {
	v, err := ast.ValueFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("want a JSON object")
	}
	if obj.Get(ast.StringTerm("decision_id")) != nil {
		if in := obj.Get(ast.StringTerm("input")); in != nil {
			return in.Value, nil
		}
		return nil, fmt.Errorf("the decision-log event has no input (was it erased?)")
	}
	return obj, nil
}

// resultJSON is the decision rule's value (an OPA value) as plain JSON.
func resultJSON(v any) any {
	if av, ok := v.(ast.Value); ok {
		if j, err := ast.JSON(av); err == nil {
			return j
		}
	}
	return v
}
