package main

import (
	"flag"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestHelp runs every command and subcommand with each form of help: it
// must exit 0 and print, on stdout, the synopsis, the subcommands, the
// flags, an example and the exit codes.
func TestHelp(t *testing.T) {
	t.Parallel()
	names := []string{"", "run", "check", "eval", "replay", "test", "keys", "keys new",
		"import", "import kong", "import apisix", "import envoy-gateway",
		"demo", "demo upstream", "demo keys", "demo token", "version"}
	var all []string
	var walk func(c *command)
	walk = func(c *command) {
		all = append(all, c.name)
		for _, s := range c.subs {
			walk(s)
		}
	}
	root := rootCommand()
	walk(root)
	if slices.Sort(all); !slices.Equal(all, slices.Sorted(slices.Values(names))) {
		t.Fatalf("commands %q; this test covers %q", all, names)
	}
	for _, name := range names {
		c := root
		for _, n := range strings.Fields(name) {
			c = c.sub(n)
		}
		forms := [][]string{{"--help"}, {"-h"}}
		if c.subs != nil {
			forms = append(forms, []string{"help"})
		}
		if name != "" {
			forms = append(forms, []string{"help " + name}) // portcullis help demo token
		}
		for _, form := range forms {
			args := append(strings.Fields(name), form...)
			if form[0] != "--help" && form[0] != "-h" && form[0] != "help" {
				args = strings.Fields(form[0])
			}
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				code, out, errOut := run(args...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				want := []string{"usage: " + c.synopsisLine() + "\n", c.synopsis, "Example:\n  portcullis ", "Exit codes:\n"}
				for _, e := range c.exits {
					want = append(want, "  "+strconv.Itoa(e.code)+"  "+e.meaning+"\n")
				}
				for _, s := range c.subs {
					want = append(want, "  "+s.name+" ")
				}
				if name == "" {
					for _, l := range root.leaves() {
						want = append(want, "  "+l.name+" ", "--version")
					}
				}
				if c.flags != nil {
					want = append(want, "Flags:\n")
					c.flagSet().VisitAll(func(f *flag.Flag) { want = append(want, "  -"+f.Name) })
				}
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("help lacks %q:\n%s", w, out)
					}
				}
			})
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, "usage: portcullis COMMAND"},
		{[]string{"serve"}, `unknown command "serve"`},
		{[]string{"--bogus"}, `unknown flag "--bogus"`},
		{[]string{"help", "serve"}, `unknown command "serve"`},
		{[]string{"demo"}, "demo token"},
		{[]string{"demo", "nope"}, `portcullis demo: unknown subcommand "nope"`},
		{[]string{"demo", "help", "nope"}, `unknown command "nope"`},
		{[]string{"keys"}, "keys new"},
		{[]string{"keys", "old"}, `portcullis keys: unknown subcommand "old"`},
		{[]string{"keys", "new"}, "--consumer is required"},
		{[]string{"keys", "new", "--consumer", "c", "--expires", "soon"}, "--expires"},
		{[]string{"keys", "new", "--consumer", "c", "--expires", "-1h"}, "not in the future"},
		{[]string{"keys", "new", "--consumer", "c", "--expires", "1h", "--not-before", "2h"}, "not after --not-before"},
		{[]string{"keys", "new", "--consumer", "c", "--path", "a..b", "--data", "x.json"}, "--path"},
		{[]string{"run", "--bogus"}, "usage: portcullis run"},
		{[]string{"check", "extra"}, `unexpected argument "extra"`},
		{[]string{"eval"}, "--input is required"},
		{[]string{"test"}, "give at least one PATH"},
		{[]string{"demo", "token", "--ttl", "forever"}, "usage: portcullis demo token"},
		{[]string{"demo", "upstream", "--nope"}, "usage: portcullis demo upstream"},
		{[]string{"demo", "keys", "x"}, `unexpected argument "x"`},
		{[]string{"version", "--short"}, "usage: portcullis version"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(tc.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.wantErr) || !strings.Contains(errOut, "usage: portcullis") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q with the usage on stderr", code, out, errOut, tc.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc1234def5678abc1234def5678abc1234def56"},
		{Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		version, stamped string
		bi               *debug.BuildInfo
		want             string
	}{
		{"v0.3.0-12-gabc1234", "", bi, "portcullis v0.3.0-12-gabc1234 (commit abc1234def56-dirty, go1.26.8)"},
		{"v0.3.0", "abc1234", bi, "portcullis v0.3.0 (commit abc1234, go1.26.8)"},
		{"dev", "", &debug.BuildInfo{GoVersion: "go1.26.8"}, "portcullis dev (commit unknown, go1.26.8)"},
	}
	for _, tc := range tests {
		if got := versionLine(tc.version, tc.stamped, tc.bi); got != tc.want {
			t.Errorf("versionLine(%q, %q) = %q, want %q", tc.version, tc.stamped, got, tc.want)
		}
	}
	_, a, _ := run("version")
	_, b, _ := run("--version")
	if a != b || !strings.HasPrefix(a, "portcullis ") || !strings.Contains(a, "(commit ") {
		t.Fatalf("version %q, --version %q", a, b)
	}
}

// TestCommandTable keeps the README's command table made from the help: if
// README.md has the table between the markers below, it must be current.
// PORTCULLIS_CLI_TABLE=FILE writes the table to FILE.
func TestCommandTable(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	rootCommand().markdownTable(&b)
	table := b.String()
	for _, l := range rootCommand().leaves() {
		if !strings.Contains(table, "| `"+l.title()+"` |") {
			t.Errorf("table lacks %s", l.title())
		}
	}
	if f := os.Getenv("PORTCULLIS_CLI_TABLE"); f != "" {
		if err := os.WriteFile(f, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip(err)
	}
	const begin, end = "<!-- cli-table: made by TestCommandTable -->\n", "<!-- /cli-table -->"
	_, rest, ok := strings.Cut(string(readme), begin)
	if !ok {
		t.Skip("README.md has no CLI table yet")
	}
	if got, _, _ := strings.Cut(rest, end); got != table {
		t.Fatalf("README.md's CLI table is out of date; run PORTCULLIS_CLI_TABLE=/tmp/t.md go test -run TestCommandTable ./cmd/portcullis and paste it; want:\n%s", table)
	}
}
