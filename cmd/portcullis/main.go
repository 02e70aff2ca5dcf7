// Command portcullis is the Portcullis API gateway.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set at build time with
// -ldflags "-X main.version=... -X main.commit=..." (the Makefile does);
// without commit, the VCS stamp of the Go toolchain is used.
var version, commit = "", ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what `portcullis version` prints: the version, the commit
// the binary was built from ("-dirty" with uncommitted changes) and the Go
// version, e.g. "portcullis v0.3.0 (commit 0123456789ab, go1.26.8)".
func versionLine(v, stamped string, bi *debug.BuildInfo) string {
	commit, goVersion := "unknown", runtime.Version()
	if stamped != "" {
		commit = stamped
	}
	if bi != nil {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		var rev string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" && stamped == "" {
			commit = rev[:min(len(rev), 12)]
			if dirty {
				commit += "-dirty"
			}
		}
	}
	return fmt.Sprintf("portcullis %s (commit %s, %s)", v, commit, goVersion)
}

var versionCmd = &command{
	name:     "version",
	synopsis: "print the version, the commit it was built from and the Go version (also --version)",
	example:  "portcullis version",
	exits:    []exitCode{{0, "the version is printed"}, exitUsage},
	flags: func(*flag.FlagSet) runner {
		return func(_ []string, stdout, _ io.Writer) int {
			bi, _ := debug.ReadBuildInfo()
			fmt.Fprintln(stdout, versionLine(buildVersion(), commit, bi))
			return 0
		}
	},
}

// rootCommand is the whole command tree, in the order help lists it.
func rootCommand() *command {
	return &command{
		synopsis: "the Portcullis API gateway",
		args:     "COMMAND [flags]",
		example:  "portcullis run --config portcullis.yaml",
		exits: []exitCode{
			{0, "--help, help or --version"},
			{2, "no command, or an unknown command or flag"},
		},
		subs: []*command{runCmd, checkCmd, evalCmd, replayCmd, testCmd, keysCmd, importCmd, demoCmd, versionCmd},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	return rootCommand().exec(args, stdout, stderr)
}

// newFlags returns a flag set that reports errors to stderr and never exits.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("portcullis "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // exec prints the command's own usage
	return fs
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
