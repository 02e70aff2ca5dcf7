package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/engine"
	"github.com/portcullis/portcullis/policy/replay"
)

var replayCmd = &command{
	name:       "replay",
	args:       "--bundle DIR_OR_TARGZ [--bundle ...] [--config FILE] [--fail-on change|widen] [--output text|json] [--emit-tests FILE.rego] LOG...",
	synopsis:   "re-evaluate logged decisions against candidate bundles and report the decisions that change",
	example:    "portcullis replay --bundle ./candidate --config portcullis.yaml .demo/decisions.log",
	positional: true,
	exits: []exitCode{
		{0, "no decision changes (with --fail-on widen: no deny became an allow)"},
		{1, "some decision changes (with --fail-on widen: some deny became an allow)"},
		{2, "a log, the configuration or the bundles could not be read, or a usage error"},
	},
	flags: func(fs *flag.FlagSet) runner {
		var bundles bundleFlag
		fs.Var(&bundles, "bundle", "candidate bundle directory or .tar.gz (repeatable); default: the configuration's bundles")
		cfgPath := fs.String("config", "", "configuration giving the decision rule, timeout, signing and bundle limits; default: the built-in defaults")
		failOn := fs.String("fail-on", "change", "what exits 1: change (any decision) or widen (deny→allow only)")
		output := fs.String("output", "text", "report format: text or json")
		examples := fs.Int("examples", 5, "changed decisions listed per direction")
		emit := fs.String("emit-tests", "", "also write the logged decisions as an opa test file")
		emitMax := fs.Int("emit-max", 100, "tests written by --emit-tests at most")
		emitPkg := fs.String("emit-package", "portcullis.authz.replayed_test", "package of the --emit-tests file")
		return func(logs []string, stdout, stderr io.Writer) int {
			switch {
			case len(logs) == 0:
				return usageErr(stderr, fs, "give at least one LOG (- for stdin)")
			case *failOn != "change" && *failOn != "widen":
				return usageErr(stderr, fs, "--fail-on %q (want change or widen)", *failOn)
			case *output != "text" && *output != "json":
				return usageErr(stderr, fs, "--output %q (want text or json)", *output)
			case len(bundles) == 0 && *cfgPath == "":
				return usageErr(stderr, fs, "give --bundle, or --config to replay against its bundles")
			case *examples < 0 || *emitMax < 1:
				return usageErr(stderr, fs, "--examples must be >= 0 and --emit-max >= 1")
			}
			r := replayRun{bundles: bundles, cfgPath: *cfgPath, examples: *examples, widenOnly: *failOn == "widen", json: *output == "json"}
			if *emit != "" {
				r.emitPath, r.emitter = *emit, &replay.Emitter{Package: *emitPkg, Max: *emitMax}
			}
			return r.run(logs, stdout, stderr)
		}
	},
}

// bundleFlag is the repeatable --bundle.
type bundleFlag []string

func (b *bundleFlag) String() string     { return strings.Join(*b, ",") }
func (b *bundleFlag) Set(v string) error { *b = append(*b, v); return nil }

// replayCacheSize bounds the replay's decision cache: a day of logs holds
// many more distinct pruned inputs than a gateway keeps hot, and the
// replay's memory is its own.
const replayCacheSize = 1 << 17

type replayRun struct {
	bundles   []string
	cfgPath   string
	examples  int
	widenOnly bool
	json      bool
	emitPath  string
	emitter   *replay.Emitter
}

func (r replayRun) run(logs []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "portcullis replay: %v\n", err)
		return 2
	}
	cfg := config.Default()
	if r.cfgPath != "" {
		var ok bool
		if cfg, ok = loadConfig(r.cfgPath, stderr); !ok {
			return 2
		}
	}
	opts := generation.EngineOptions(cfg, nil, zerolog.Nop())
	opts.DecisionCacheSize = replayCacheSize
	if len(r.bundles) > 0 {
		opts.Sources = nil
		for _, p := range r.bundles {
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(filepath.Clean(p)), ".tar.gz"), ".tgz")
			opts.Sources = append(opts.Sources, bundle.Source{Name: name, Path: p})
		}
	}
	ctx := context.Background()
	eng, err := engine.New(ctx, opts)
	if err != nil {
		return fail(err)
	}
	inputs := make([]replay.Input, len(logs))
	for i, p := range logs {
		if p == "-" {
			inputs[i] = replay.Input{Name: "stdin", R: os.Stdin}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		inputs[i] = replay.Input{Name: p, R: f}
	}
	ro := replay.Options{Engine: eng, Decision: cfg.Policy.Decision, Examples: r.examples}
	if r.emitter != nil {
		r.emitter.Decision = cfg.Policy.Decision
		ro.Emit = r.emitter.Add
	}
	rep, err := replay.Run(ctx, ro, inputs)
	if err != nil {
		return fail(err)
	}
	if r.emitter != nil {
		if err := writeTests(r.emitPath, r.emitter); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "portcullis replay: wrote %d tests to %s\n", r.emitter.Len(), r.emitPath)
	}
	if r.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.WriteText(stdout)
	}
	if rep.DenyToAllow.Total > 0 || (!r.widenOnly && rep.Changed() > 0) {
		return 1
	}
	return 0
}

func writeTests(path string, e *replay.Emitter) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := e.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
