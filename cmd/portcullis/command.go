package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one command or subcommand of the CLI and the one place its help
// lives: the usage on errors, --help and the README table (commandTable) are
// all made from it.
type command struct {
	name     string // after "portcullis": "run", "demo token"; "" for the root
	args     string // what follows the name in the synopsis, e.g. "[--config FILE]"
	synopsis string // one line
	example  string // one command line
	exits    []exitCode
	// subs are the subcommands; a command has either subs or flags.
	subs []*command
	// flags defines the command's flags on fs and returns what runs the
	// command once they are parsed, with the remaining arguments.
	flags func(fs *flag.FlagSet) runner
	// positional says the command takes arguments after its flags; without
	// it extra arguments are a usage error.
	positional bool
}

// runner runs a command with the arguments left after its flags and returns
// the exit code, or badUsage after printing the problem with usageErr.
type runner func(args []string, stdout, stderr io.Writer) int

type exitCode struct {
	code    int
	meaning string
}

// exitUsage is the exit code every command shares.
var exitUsage = exitCode{2, "usage error: unknown subcommand or flag, bad flag value, missing argument"}

// badUsage is what a runner returns for a usage error it has reported.
const badUsage = -2

// usageErr reports a usage error of the command whose flag set is fs.
func usageErr(stderr io.Writer, fs *flag.FlagSet, format string, a ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	return badUsage
}

func (c *command) title() string {
	if c.name == "" {
		return "portcullis"
	}
	return "portcullis " + c.name
}

func (c *command) synopsisLine() string {
	if c.args == "" {
		return c.title()
	}
	return c.title() + " " + c.args
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// exec runs c with args.
func (c *command) exec(args []string, stdout, stderr io.Writer) int {
	if c.subs != nil {
		return c.execParent(args, stdout, stderr)
	}
	fs := newFlags(c.name, stderr)
	run := c.flags(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			c.help(stdout)
			return 0
		}
		c.usage(stderr) // the flag package has printed the problem
		return 2
	}
	if !c.positional && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", c.title(), fs.Arg(0))
		c.usage(stderr)
		return 2
	}
	code := run(fs.Args(), stdout, stderr)
	if code == badUsage {
		c.usage(stderr)
		return 2
	}
	return code
}

func (c *command) execParent(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		c.usage(stderr)
		return 2
	}
	switch a := args[0]; {
	case a == "help" && len(args) > 1:
		// portcullis help demo token, portcullis demo help token
		target := c
		for _, name := range args[1:] {
			if target = target.sub(name); target == nil {
				fmt.Fprintf(stderr, "%s: no help for unknown command %q\n", c.title(), strings.Join(args[1:], " "))
				c.usage(stderr)
				return 2
			}
		}
		target.help(stdout)
		return 0
	case isHelp(a):
		c.help(stdout)
		return 0
	case c.name == "" && (a == "--version" || a == "-version"):
		return versionCmd.exec(nil, stdout, stderr)
	case strings.HasPrefix(a, "-"):
		fmt.Fprintf(stderr, "%s: unknown flag %q\n", c.title(), a)
		c.usage(stderr)
		return 2
	}
	sub := c.sub(args[0])
	if sub == nil {
		what := "subcommand"
		if c.name == "" {
			what = "command"
		}
		fmt.Fprintf(stderr, "%s: unknown %s %q\n", c.title(), what, args[0])
		c.usage(stderr)
		return 2
	}
	return sub.exec(args[1:], stdout, stderr)
}

func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.name == strings.TrimSpace(c.name+" "+name) {
			return s
		}
	}
	return nil
}

// leaves are c's runnable commands, depth first.
func (c *command) leaves() []*command {
	if c.subs == nil {
		return []*command{c}
	}
	var out []*command
	for _, s := range c.subs {
		out = append(out, s.leaves()...)
	}
	return out
}

// usage is the short form printed on stderr with a usage error.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n", c.synopsisLine())
	if c.subs != nil {
		c.listSubs(w)
	}
	fmt.Fprintf(w, "Run '%s --help' for %s.\n", c.title(), c.helpWhat())
}

func (c *command) helpWhat() string {
	if c.name == "" {
		return "more, and 'portcullis help COMMAND' for a command's flags"
	}
	if c.subs != nil {
		return "more, and '" + c.title() + " help SUBCOMMAND' for a subcommand's flags"
	}
	return "its flags, an example and its exit codes"
}

func (c *command) listSubs(w io.Writer) {
	list := c.subs
	if c.name == "" {
		list = c.leaves() // the root lists every runnable command
	}
	width := 0
	for _, s := range list {
		width = max(width, len(s.name))
	}
	for _, s := range list {
		fmt.Fprintf(w, "  %-*s  %s\n", width, s.name, s.synopsis)
	}
}

// help is the full text --help prints on stdout.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsisLine(), c.synopsis)
	if c.subs != nil {
		if c.name == "" {
			fmt.Fprintf(w, "\nCommands:\n")
		} else {
			fmt.Fprintf(w, "\nSubcommands:\n")
		}
		c.listSubs(w)
		if c.name == "" {
			fmt.Fprintf(w, "\nFlags:\n  -h, --help  print this help (also: portcullis help [COMMAND])\n  --version   print the version (also: portcullis version)\n")
		}
		what := "SUBCOMMAND"
		if c.name == "" {
			what = "COMMAND"
		}
		fmt.Fprintf(w, "\nRun '%s help %s' or '%s %s --help' for its flags, an example and its exit codes.\n", c.title(), what, c.title(), what)
	} else {
		fmt.Fprintf(w, "\nFlags:\n")
		fs := c.flagSet()
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintf(w, "  (none)\n")
		}
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n\nExit codes:\n", c.example)
	for _, e := range c.exits {
		fmt.Fprintf(w, "  %d  %s\n", e.code, e.meaning)
	}
}

// flagSet is c's flags, defined but not parsed.
func (c *command) flagSet() *flag.FlagSet {
	fs := newFlags(c.name, io.Discard)
	c.flags(fs)
	return fs
}

// markdownTable writes the README's table of every runnable command: its
// synopsis, flags with defaults, and exit codes.
func (c *command) markdownTable(w io.Writer) {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintln(w, "| Command | What it does | Flags (default) | Exit codes |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, l := range c.leaves() {
		var flags []string
		l.flagSet().VisitAll(func(f *flag.Flag) {
			s := "`--" + f.Name + "`"
			if f.DefValue != "" && f.DefValue != "false" {
				s += " (`" + f.DefValue + "`)"
			}
			flags = append(flags, s)
		})
		var exits []string
		for _, e := range l.exits {
			exits = append(exits, fmt.Sprintf("%d %s", e.code, e.meaning))
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", cell(l.title()), cell(l.synopsis), cell(strings.Join(flags, ", ")), cell(strings.Join(exits, "; ")))
	}
}
