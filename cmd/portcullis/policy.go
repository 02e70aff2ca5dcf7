package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/policy/engine"
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
	synopsis: "evaluate the configured decision rule on an input document or a decision-log event",
	example:  "portcullis eval --config portcullis.yaml --input event.json",
	exits: []exitCode{
		{0, "the request is allowed (the decision is printed as JSON)"},
		{1, "the configuration, the input or the policy could not be loaded"},
		exitUsage,
		{3, "the request is denied, or the policy failed (fail closed; see \"error\")"},
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

// cmdEval evaluates the configured decision rule on an input document or
// on a decision-log event (its "input" is used).
func cmdEval(cfgPath, inputPath string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig(cfgPath, stderr)
	if !ok {
		return 1
	}
	var raw []byte
	var err error
	if inputPath == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
	} else {
		raw, err = os.ReadFile(inputPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis eval: %v\n", err)
		return 1
	}
	input, err := evalInput(raw)
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
