package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
	"github.com/portcullis/portcullis/policy/replay"
)

var testCmd = &command{
	name:       "test",
	args:       "[-v] [-run REGEX] PATH...",
	synopsis:   "run the Rego tests of bundle directories in-process, like opa test",
	example:    "portcullis test -v bundles/",
	positional: true,
	exits: []exitCode{
		{0, "every test passed"},
		{1, "the policies or tests could not be loaded or compiled"},
		{2, "a test failed or errored (like opa test), or a usage error"},
	},
	flags: func(fs *flag.FlagSet) runner {
		verbose := fs.Bool("v", false, "print every test, not only failures")
		run := fs.String("run", "", "regular expression selecting tests")
		return func(paths []string, stdout, stderr io.Writer) int {
			if len(paths) == 0 {
				return usageErr(stderr, fs, "give at least one PATH")
			}
			ok, err := engine.RunTests(context.Background(), paths, stdout, engine.TestOptions{
				Verbose: *verbose, Run: *run, MaxBundleBytes: int64(config.Default().Policy.MaxBundleBytes),
			})
			if err != nil {
				fmt.Fprintf(stderr, "portcullis test: %v\n", err)
				return 1
			}
			if !ok {
				return 2
			}
			return 0
		}
	},
}

var evalCmd = &command{
	name:     "eval",
	args:     "[--config FILE] --input FILE",
	synopsis: "evaluate the configured decision rule on an input document, or replay one decision-log event",
	example:  "portcullis eval --config portcullis.yaml --input event.json",
	exits: []exitCode{
		{0, "an input document is allowed, or an event's replayed decision is the recorded one (the decision is printed as JSON)"},
		{1, "the configuration, the input or the policy could not be loaded"},
		exitUsage,
		{3, "an input document is denied, or the policy failed (fail closed; see \"error\"); an event that never reached the policy exits as an input document"},
		{4, "an event's replayed decision differs from the recorded one (allow against deny)"},
	},
	flags: func(fs *flag.FlagSet) runner {
		cfgPath := configFlag(fs)
		inputPath := fs.String("input", "", "input document or decision-log event (JSON); - for stdin")
		return func(_ []string, stdout, stderr io.Writer) int {
			if *inputPath == "" {
				return usageErr(stderr, fs, "--input is required")
			}
			return cmdEval(*cfgPath, *inputPath, stdout, stderr)
		}
	},
}

// cmdEval evaluates the configured decision rule on an input document, or
// replays a decision-log event: its input is evaluated and the decision
// compared with the one the event records.
func cmdEval(cfgPath, inputPath string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig(cfgPath, stderr)
	if !ok {
		return 1
	}
	var raw []byte
	var err error
	if inputPath == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, replay.MaxEventBytes))
	} else {
		raw, err = os.ReadFile(inputPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis eval: %v\n", err)
		return 1
	}
	input, ev, err := evalInput(raw)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis eval: %s: %v\n", inputPath, err)
		return 1
	}
	ctx := context.Background()
	eng, err := engine.New(ctx, generation.EngineOptions(cfg, nil, zerolog.Nop()))
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
	code := 0
	if !d.Allow {
		code = 3
	}
	if ev != nil {
		out["decision_id"] = ev.DecisionID
		code = compareRecorded(out, ev, d, cfg.Policy.Decision, stderr, code)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	return code
}

// compareRecorded adds the event's recorded decision to out and returns
// the exit code: 0 same, 4 differs; code (that of an input document) with a
// warning when the event records no decision to compare with.
func compareRecorded(out map[string]any, ev *replay.Event, d *policy.Decision, rule string, stderr io.Writer, code int) int {
	if ev.Masked {
		fmt.Fprintf(stderr, "portcullis eval: warning: the mask rule changed this event's input; it is evaluated as logged\n")
	}
	if path := strings.ReplaceAll(strings.TrimPrefix(rule, "data."), ".", "/"); ev.Path != "" && ev.Path != path {
		fmt.Fprintf(stderr, "portcullis eval: warning: the event was decided by %s, not by the decision rule %s\n", ev.Path, rule)
	}
	if ev.Recorded == nil {
		why := "it never reached the policy (outcome " + ev.Outcome + ")"
		if ev.ResultErased {
			why = "its result was erased"
		}
		fmt.Fprintf(stderr, "portcullis eval: warning: the event records no decision to compare with: %s\n", why)
		return code
	}
	rec := map[string]any{"allow": ev.Recorded.Allow, "reasons": ev.Recorded.Reasons}
	if ev.Recorded.Result != nil {
		rec["result"] = resultJSON(ev.Recorded.Result)
	}
	out["recorded"] = rec
	differs := ev.Recorded.Allow != d.Allow
	out["differs"] = differs
	if differs {
		return 4
	}
	return 0
}

// evalInput accepts an input document, or a decision-log event (it has a
// decision_id), whose input it returns with the event.
func evalInput(raw []byte) (ast.Value, *replay.Event, error) {
	v, err := ast.ValueFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("not JSON: %w", err)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, nil, fmt.Errorf("want a JSON object")
	}
	if obj.Get(ast.StringTerm("decision_id")) == nil {
		return obj, nil, nil
	}
	ev, err := replay.ParseEvent(raw, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("decision-log event: %w", err)
	}
	if ev.Input == nil {
		return nil, nil, fmt.Errorf("the decision-log event has no input (no route matched, or it was erased)")
	}
	return ev.Input, ev, nil
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
