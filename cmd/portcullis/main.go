// Command portcullis is the Portcullis API gateway.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// command is one subcommand; run returns the process exit code.
type command struct {
	usage string
	run   func(args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"run":     {"run [--config FILE]          serve the gateway (default config portcullis.yaml)", cmdRun},
		"check":   {"check [--config FILE]        validate config, bundles, OpenAPI specs and key files", cmdCheck},
		"version": {"version                      print the version", cmdVersion},
		"demo":    {"demo upstream|token|keys     demo echo upstream, demo token minting, demo issuer keys", cmdDemo},
		"keys":    {"keys new --consumer NAME     generate an API key and its bundle-data record", cmdKeys},
		"test":    {"test PATH...                 run the Rego tests of bundles (like opa test)", cmdTest},
		"eval":    {"eval --config FILE --input F evaluate the decision rule on a captured input", cmdEval},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "portcullis: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: portcullis COMMAND [flags]")
	for _, n := range names {
		fmt.Fprintln(w, "  "+cmds[n].usage)
	}
}

// newFlags returns a flag set that reports errors to stderr and never exits.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("portcullis "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and returns the exit code to use when parsing failed (0 = go on).
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return -1
		}
		return 2
	}
	return 0
}

func cmdVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "portcullis", buildVersion())
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
