package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/migrate"
	"github.com/portcullis/portcullis/internal/migrate/apisix"
	"github.com/portcullis/portcullis/internal/migrate/envoygateway"
	"github.com/portcullis/portcullis/internal/migrate/kong"
)

var importCmd = &command{
	name:     "import",
	args:     "SUBCOMMAND FILE... --out DIR",
	synopsis: "convert another gateway's configuration into portcullis.yaml, a bundle and MIGRATION.md",
	example:  "portcullis import kong kong.yaml --out migrated",
	exits:    []exitCode{{0, "help"}, {2, "no or an unknown subcommand"}},
	subs: []*command{
		importSub("kong", "Kong declarative configuration (_format_version 3.0)", "kong.yaml", kong.Import),
		importSub("apisix", "APISIX standalone YAML (routes, upstreams, consumers)", "apisix.yaml", apisix.Import),
		importSub("envoy-gateway", "Envoy Gateway SecurityPolicy and the HTTPRoutes they target", "security-policy.yaml httproute.yaml", envoygateway.Import),
	},
}

// exitIncomplete is the exit status of an import that wrote its result but
// could not map everything (MIGRATION.md lists what).
const exitIncomplete = 3

func importSub(source, what, files string, read func([]migrate.Input) (*migrate.Plan, error)) *command {
	return &command{
		name:       "import " + source,
		args:       "FILE... --out DIR",
		synopsis:   "import " + what + "; API keys are stored hashed, never in clear",
		example:    "portcullis import " + source + " " + files + " --out migrated",
		positional: true,
		exits: []exitCode{
			{0, "every input item mapped; DIR holds portcullis.yaml, bundles/, schemas/, keys/ and MIGRATION.md"},
			{1, "DIR could not be written"},
			{exitIncomplete, "DIR is written, but some input items did not map (listed in DIR/MIGRATION.md)"},
			{2, "usage error, or an input file that cannot be read or is not " + source + " configuration"},
		},
		flags: func(fs *flag.FlagSet) runner {
			out := fs.String("out", "", "directory to write (created; required)")
			return func(args []string, stdout, stderr io.Writer) int {
				files, err := interspersed(fs, args)
				if err != nil {
					return usageErr(stderr, fs, "%v", err)
				}
				if len(files) == 0 || *out == "" {
					return usageErr(stderr, fs, "want at least one FILE and --out DIR")
				}
				return runImport(read, files, *out, stdout, stderr)
			}
		},
	}
}

// interspersed parses the flags that follow positional arguments, so that
// "import kong a.yaml --out DIR" works as the synopsis shows (the flag
// package stops at the first non-flag).
func interspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		pos = append(pos, args[0])
		if err := fs.Parse(args[1:]); err != nil {
			return nil, err
		}
		args = fs.Args()
	}
	return pos, nil
}

func runImport(read func([]migrate.Input) (*migrate.Plan, error), files []string, out string, stdout, stderr io.Writer) int {
	var inputs []migrate.Input
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "portcullis import: %v\n", err)
			return 2
		}
		inputs = append(inputs, migrate.Input{Name: f, Data: b})
	}
	plan, err := read(inputs)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis import: %v\n", err)
		return 2
	}
	if err := migrate.Write(out, plan); err != nil {
		fmt.Fprintf(stderr, "portcullis import: write %s: %v\n", out, err)
		return 1
	}
	report := filepath.Join(out, "MIGRATION.md")
	if !plan.Report.Complete() {
		n := 0
		for _, it := range plan.Report {
			if it.Outcome == migrate.NotMapped {
				n++
				fmt.Fprintf(stderr, "%s:%d: %s: not mapped: %s\n", it.File, it.Line, it.What, it.Detail)
			}
		}
		fmt.Fprintf(stdout, "wrote %s; %d item(s) did not map, see %s\n", out, n, report)
		return exitIncomplete
	}
	fmt.Fprintf(stdout, "wrote %s; everything mapped, see %s\n", out, report)
	return 0
}
