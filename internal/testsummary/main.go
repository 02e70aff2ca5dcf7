// Command testsummary renders test output for people and counts what ran,
// so `make test` can end with one line saying so:
//
//	go test -json ./... | testsummary go -counts FILE    # like plain go test output; counts appended to FILE
//	opa test bundles/ | testsummary rego -counts FILE    # passed through; counts appended to FILE
//	testsummary report FILE                              # the summary of every count in FILE
//
// The go and rego modes exit 1 when something failed; report exits 1 when
// any count has a failure. report's last line is the plain form CI
// harnesses recognise: "N passed, N failed, N skipped".
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: testsummary go|rego -counts FILE < output, or testsummary report FILE")
		return 2
	}
	switch args[0] {
	case "go", "rego":
		fs := flag.NewFlagSet("testsummary "+args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		file := fs.String("counts", "", "append the counts to this file (JSON lines)")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		var c Counts
		var err error
		if args[0] == "go" {
			c, err = RenderGo(stdin, stdout)
		} else {
			c, err = RenderRego(stdin, stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "testsummary: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, c.Line())
		if *file != "" {
			if err := appendCounts(*file, c); err != nil {
				fmt.Fprintf(stderr, "testsummary: %v\n", err)
				return 1
			}
		}
		if c.Failed > 0 {
			return 1
		}
		return 0
	case "report":
		var all []Counts
		for _, f := range args[1:] {
			cs, err := readCounts(f)
			if err != nil {
				fmt.Fprintf(stderr, "testsummary: %v\n", err)
				return 1
			}
			all = append(all, cs...)
		}
		summary, total := Report(all)
		fmt.Fprintln(stdout, summary)
		fmt.Fprintln(stdout, total)
		for _, c := range all {
			if c.Failed > 0 {
				return 1
			}
		}
		return 0
	}
	fmt.Fprintf(stderr, "testsummary: unknown mode %q\n", args[0])
	return 2
}

// Counts are what one run of go test or opa test reported. Tests are
// top-level tests (Test, Example and Fuzz functions, Rego rules); Sub*
// count Go subtests. A Go package that failed with no failing test (a
// build error, a panic in TestMain, a timeout) counts as one failed test.
type Counts struct {
	Kind                             string // "go" or "rego"
	Packages                         int    // Go packages that ran tests
	Passed, Failed, Skipped          int
	SubPassed, SubFailed, SubSkipped int
}

// Line is the one-line account of c printed at the end of its output.
func (c Counts) Line() string {
	if c.Kind == "rego" {
		return fmt.Sprintf("rego: %d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
	}
	return fmt.Sprintf("go: %d packages, %d tests passed, %d failed, %d skipped (subtests: %d passed, %d failed, %d skipped)",
		c.Packages, c.Passed, c.Failed, c.Skipped, c.SubPassed, c.SubFailed, c.SubSkipped)
}

// Report sums counts into the summary line and the plain total line.
func Report(all []Counts) (summary, total string) {
	var g, r Counts
	for _, c := range all {
		p := &g
		if c.Kind == "rego" {
			p = &r
		}
		p.Packages += c.Packages
		p.Passed += c.Passed
		p.Failed += c.Failed
		p.Skipped += c.Skipped
		p.SubPassed += c.SubPassed
		p.SubFailed += c.SubFailed
		p.SubSkipped += c.SubSkipped
	}
	summary = fmt.Sprintf("summary: %d packages, %d tests passed, %d failed, %d skipped (subtests: %d passed, %d failed, %d skipped); rego: %d passed, %d failed, %d skipped",
		g.Packages, g.Passed, g.Failed, g.Skipped, g.SubPassed, g.SubFailed, g.SubSkipped, r.Passed, r.Failed, r.Skipped)
	total = fmt.Sprintf("%d passed, %d failed, %d skipped", g.Passed+r.Passed, g.Failed+r.Failed, g.Skipped+r.Skipped)
	return summary, total
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// RenderGo reads go test -json and writes what plain go test prints: each
// package's result line, and the whole output of every failing test, of a
// package that failed outside its tests, and of build errors. Lines that
// are not JSON are copied through.
func RenderGo(r io.Reader, w io.Writer) (Counts, error) {
	c := Counts{Kind: "go"}
	type key struct{ pkg, test string }
	buf := map[key][]string{}         // output of running tests
	failedIn := map[string]bool{}     // packages with a failed test
	var order = map[string][]string{} // running tests of a package, in start order
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		if e.Action == "build-output" {
			io.WriteString(w, e.Output)
			continue
		}
		if e.Test == "" {
			switch e.Action {
			case "output":
				if e.Output != "PASS\n" {
					io.WriteString(w, e.Output)
				}
			case "pass", "fail":
				c.Packages++
				for _, t := range order[e.Package] { // tests that never finished
					if e.Action == "fail" {
						io.WriteString(w, strings.Join(buf[key{e.Package, t}], ""))
					}
					delete(buf, key{e.Package, t})
				}
				delete(order, e.Package)
				if e.Action == "fail" && !failedIn[e.Package] {
					c.Failed++
				}
			}
			continue
		}
		k := key{e.Package, e.Test}
		sub := strings.Contains(e.Test, "/")
		switch e.Action {
		case "run":
			order[e.Package] = append(order[e.Package], e.Test)
		case "output":
			buf[k] = append(buf[k], e.Output)
		case "pass", "fail", "skip":
			if e.Action == "fail" {
				io.WriteString(w, strings.Join(buf[k], ""))
				failedIn[e.Package] = true
			}
			delete(buf, k)
			o := order[e.Package]
			for i, t := range o {
				if t == e.Test {
					order[e.Package] = append(o[:i:i], o[i+1:]...)
					break
				}
			}
			n := map[string][2]*int{"pass": {&c.Passed, &c.SubPassed}, "fail": {&c.Failed, &c.SubFailed}, "skip": {&c.Skipped, &c.SubSkipped}}[e.Action]
			if sub {
				*n[1]++
			} else {
				*n[0]++
			}
		}
	}
	return c, sc.Err()
}

// opaCount matches the totals opa test prints: "PASS: 18/19", "FAIL: 1/19".
var opaCount = regexp.MustCompile(`^(PASS|FAIL|ERROR|SKIPPED): (\d+)/(\d+)$`)

// RenderRego copies opa test's output through and reads its totals.
// Without totals (the policies did not compile) it counts one failure.
func RenderRego(r io.Reader, w io.Writer) (Counts, error) {
	c := Counts{Kind: "rego"}
	seen := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(w, line)
		m := opaCount.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		seen = true
		n, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "PASS":
			c.Passed += n
		case "FAIL", "ERROR":
			c.Failed += n
		case "SKIPPED":
			c.Skipped += n
		}
	}
	if !seen {
		c.Failed++
	}
	return c, sc.Err()
}

func appendCounts(file string, c Counts) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(c)
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, f.Close())
}

func readCounts(file string) ([]Counts, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []Counts
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var c Counts
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, c)
	}
	return out, nil
}
