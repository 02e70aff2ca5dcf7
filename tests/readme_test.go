package tests

// The README's tour and its "Add your first route" walkthrough are run here,
// command by command, against make run's files (the example portcullis.yaml,
// bundles/, schemas/, a fresh demo issuer) and the real demo upstream, and
// what the README shows is compared with what the commands print.
//
// How the README is read, inside those two sections:
//
//   - A ```sh block is a list of commands, run in order in one bash session
//     (so TOKEN=... carries over), with pipefail, in the test's directory
//     (a copy of the example, bin/portcullis being the test binary, `go tool
//     opa` the module's opa). A line ending in \ continues the command;
//     other comment lines are prose. Every command must exit 0.
//   - localhost:8080, localhost:8081 and 127.0.0.1:9000 are the test's
//     proxy, admin and upstream addresses: replaced in the commands, and
//     mapped back in their output before it is compared, as is the
//     test directory (an absolute path in the output reads as relative).
//   - A trailing "# X" on a command's last line, or a "# → X" line after
//     it, is the last line of the command's output.
//   - A ```json or ```text block that follows a ```sh block with nothing but
//     blank lines between is the whole output of that block's last command:
//     JSON compared as JSON values, text line by line.
//   - In expected output, "…" matches any run of characters; in JSON, the
//     string "…" matches any value (ids, times, versions differ per run).
//   - A block whose info string names a file (```rego bundles/x.rego) is
//     written to that file; "+FILE" appends to it. After the files of a
//     row of such blocks are written, the test waits for the running
//     gateway to build a new generation from them, as it does by itself.
//   - Commands that read the decision log are retried for a few seconds
//     until their output matches: its file sink writes asynchronously.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/problem"
)

// readmeStep is one thing the README asks the reader to do.
type readmeStep struct {
	line int    // in README.md, for messages
	kind string // "cmd" or "file"
	// cmd
	cmd      string
	wantLast string // expected last line of output, if any
	wantAll  string // expected whole output, if any
	wantJSON bool   // wantAll is JSON
	// file
	path   string
	append bool
	body   string
}

var (
	fenceRE    = regexp.MustCompile("^```(\\S*)\\s*(\\S*)\\s*$")
	trailingRE = regexp.MustCompile(`^(.*?\S)\s+# (.*)$`)
)

// readmeSection returns the lines of README.md's "## title" section and the
// line number of its first line.
func readmeSection(t *testing.T, title string) ([]string, int) {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	start := slices.Index(lines, "## "+title)
	if start < 0 {
		t.Fatalf("README.md has no section %q", "## "+title)
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	return lines[start:end], start + 1
}

// parseReadmeSteps turns a section into steps, following the rules above.
func parseReadmeSteps(t *testing.T, lines []string, first int) []readmeStep {
	t.Helper()
	var steps []readmeStep
	lastSh := -1 // index in steps of the last command of the latest sh block, while only blank lines follow it
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		m := fenceRE.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) != "" {
				lastSh = -1
			}
			continue
		}
		lang, arg := m[1], m[2]
		start := i + 1
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("README.md:%d: unterminated code block", first+start-1)
		}
		body := lines[start:i]
		switch {
		case arg != "":
			p, app := strings.CutPrefix(arg, "+")
			steps = append(steps, readmeStep{line: first + start - 1, kind: "file", path: p, append: app,
				body: strings.Join(body, "\n") + "\n"})
			lastSh = -1
		case lang == "sh":
			steps = append(steps, parseCommands(body, first+start)...)
			lastSh = len(steps) - 1
		case (lang == "json" || lang == "text") && lastSh >= 0:
			steps[lastSh].wantAll = strings.Join(body, "\n")
			steps[lastSh].wantJSON = lang == "json"
			lastSh = -1
		default:
			lastSh = -1
		}
	}
	return steps
}

// parseCommands splits a sh block into commands with their expectations.
func parseCommands(body []string, first int) []readmeStep {
	var steps []readmeStep
	for i := 0; i < len(body); i++ {
		line := body[i]
		trimmed := strings.TrimSpace(line)
		if want, ok := strings.CutPrefix(trimmed, "# → "); ok && len(steps) > 0 {
			steps[len(steps)-1].wantLast = want
			continue
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		st := readmeStep{line: first + i, kind: "cmd"}
		cmd := []string{line}
		for strings.HasSuffix(line, "\\") && i+1 < len(body) {
			i++
			line = body[i]
			cmd = append(cmd, line)
		}
		if m := trailingRE.FindStringSubmatch(line); m != nil {
			st.wantLast = strings.TrimSpace(m[2])
		}
		st.cmd = strings.Join(cmd, "\n")
		steps = append(steps, st)
	}
	return steps
}

// bashSession is one bash process that runs commands one at a time.
type bashSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *syncBuffer
	marker string
}

func newBashSession(t *testing.T, dir string, prelude string) *bashSession {
	t.Helper()
	s := &bashSession{t: t, stderr: &syncBuffer{}, marker: fmt.Sprintf("__readme_done_%d__", time.Now().UnixNano())}
	s.cmd = exec.Command("bash", "--noprofile", "--norc")
	s.cmd.Dir = dir
	s.cmd.Stderr = s.stderr
	var err error
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.out = bufio.NewReader(stdout)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.in.Close(); _ = s.cmd.Wait() })
	if out, rc := s.run(prelude); rc != 0 {
		t.Fatalf("bash prelude failed (%d): %s %s", rc, out, s.stderr.String())
	}
	return s
}

// run runs one command and returns its standard output and exit status.
func (s *bashSession) run(command string) (string, int) {
	s.t.Helper()
	fmt.Fprintf(s.in, "{\n%s\n} </dev/null; printf '\\n%s %%d\\n' $?\n", command, s.marker)
	type result struct {
		out string
		rc  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := s.out.ReadString('\n')
			if rest, ok := strings.CutPrefix(line, s.marker+" "); ok {
				var rc int
				fmt.Sscanf(rest, "%d", &rc)
				ch <- result{strings.TrimSuffix(b.String(), "\n"), rc, nil}
				return
			}
			b.WriteString(line)
			if err != nil {
				ch <- result{b.String(), -1, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			s.t.Fatalf("bash ended: %v\n%s", r.err, s.stderr.String())
		}
		return r.out, r.rc
	case <-time.After(30 * time.Second):
		s.t.Fatalf("command did not finish within 30s:\n%s", command)
		return "", -1
	}
}

// wildcardMatch reports whether got matches want, where "…" in want
// matches any run of characters.
func wildcardMatch(want, got string) bool {
	parts := strings.Split(want, "…")
	if len(parts) == 1 {
		return want == got
	}
	expr := make([]string, len(parts))
	for i, p := range parts {
		expr[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("(?s)^" + strings.Join(expr, ".*") + "$").MatchString(got)
}

// jsonMatch compares a JSON value from the README with one from a command.
func jsonMatch(want, got any) bool {
	switch w := want.(type) {
	case string:
		if w == "…" {
			return true
		}
		g, ok := got.(string)
		return ok && wildcardMatch(w, g)
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !jsonMatch(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonMatch(w[i], g[i]) {
				return false
			}
		}
		return true
	default:
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		return bytes.Equal(wb, gb)
	}
}

// jsonValues decodes a stream of JSON values.
func jsonValues(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// outputProblem returns why out does not match the step's expectations, or "".
func outputProblem(st readmeStep, out string) string {
	if st.wantLast != "" {
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if last := lines[len(lines)-1]; !wildcardMatch(st.wantLast, last) {
			return fmt.Sprintf("last line of output is %q, the README says %q", last, st.wantLast)
		}
	}
	if st.wantAll == "" {
		return ""
	}
	if st.wantJSON {
		want, err := jsonValues(st.wantAll)
		if err != nil {
			return fmt.Sprintf("the README's JSON output does not parse: %v", err)
		}
		got, err := jsonValues(out)
		if err != nil {
			return fmt.Sprintf("output is not JSON (%v)", err)
		}
		if !jsonMatch(want, got) {
			return "output differs from the README's JSON"
		}
		return ""
	}
	want := strings.Split(strings.TrimRight(st.wantAll, "\n"), "\n")
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(want) != len(got) {
		return fmt.Sprintf("output has %d lines, the README shows %d", len(got), len(want))
	}
	for i := range want {
		if !wildcardMatch(want[i], got[i]) {
			return fmt.Sprintf("output line %d is %q, the README says %q", i+1, got[i], want[i])
		}
	}
	return ""
}

// startDemoUpstream runs `portcullis demo upstream` on addr, verifying
// identity assertions against the gateway's JWKS at jwksURL.
func startDemoUpstream(t *testing.T, addr, jwksURL string) {
	t.Helper()
	cmd := exec.Command(binary, "demo", "upstream", "--listen", addr, "--assertion-jwks", jwksURL)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo upstream not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// generationState returns the running generation's number from /v1/status.
func generationState(t *testing.T, g *gateway) int {
	t.Helper()
	var st struct {
		Generation int `json:"generation"`
	}
	g.status(t, &st)
	return st.Generation
}

// waitForGeneration waits until a generation after before runs and no
// further one followed for a moment (one edit may be seen as several file
// events).
func waitForGeneration(t *testing.T, g *gateway, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := generationState(t, g)
	stable := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if n := generationState(t, g); n != last {
			last, stable = n, time.Now()
		}
		if last > before && time.Since(stable) > 600*time.Millisecond {
			return
		}
	}
	t.Fatalf("the gateway built no new generation within 10s:\n%s", g.stderr.String())
}

func TestREADMETourAndFirstRoute(t *testing.T) {
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: .ci/run must install it", tool)
			}
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	opaPath, err := exec.Command("go", "-C", "..", "tool", "-n", "opa").Output()
	if err != nil {
		t.Fatalf("go tool -n opa: %v", err)
	}
	// The gateway first, so that the upstream can be given its JWKS URL.
	upAddr := freeAddr(t)
	g := exampleGatewayFor(t, "http://"+upAddr)
	startDemoUpstream(t, upAddr, g.admin+"/.well-known/jwks.json")
	if err := os.MkdirAll(filepath.Join(g.dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(g.dir, "bin", "portcullis")); err != nil {
		t.Fatal(err)
	}
	port := func(u string) string { _, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://")); return p }
	proxyPort, adminPort, upPort := port(g.proxy), port(g.admin), port("http://"+upAddr)
	toTest := strings.NewReplacer("localhost:8080", "localhost:"+proxyPort, "localhost:8081", "localhost:"+adminPort,
		"127.0.0.1:9000", "127.0.0.1:"+upPort)
	fromTest := strings.NewReplacer("localhost:"+proxyPort, "localhost:8080", "127.0.0.1:"+proxyPort, "127.0.0.1:8080",
		"localhost:"+adminPort, "localhost:8081", "127.0.0.1:"+adminPort, "127.0.0.1:8081",
		"127.0.0.1:"+upPort, "127.0.0.1:9000", g.dir+string(filepath.Separator), "")
	prelude := fmt.Sprintf("set -o pipefail\nOPA=%q\ngo() { if [ \"$1\" = tool ] && [ \"$2\" = opa ]; then shift 2; \"$OPA\" \"$@\"; else command go \"$@\"; fi; }",
		strings.TrimSpace(string(opaPath)))
	sh := newBashSession(t, g.dir, prelude)

	commands := 0
	for _, section := range []string{"A five-minute tour", "Add your first route"} {
		lines, first := readmeSection(t, section)
		steps := parseReadmeSteps(t, lines, first)
		t.Run(section, func(t *testing.T) {
			sh.t = t
			defer func() { sh.t = nil }()
			pending := -1 // the generation before the files being written
			for i, st := range steps {
				switch st.kind {
				case "file":
					p := filepath.Join(g.dir, filepath.FromSlash(st.path))
					if pending < 0 {
						pending = generationState(t, g)
					}
					flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
					if st.append {
						flags = os.O_WRONLY | os.O_APPEND
					}
					f, err := os.OpenFile(p, flags, 0o644)
					if err != nil {
						t.Fatalf("README.md:%d: %v", st.line, err)
					}
					_, err = f.WriteString(toTest.Replace(st.body))
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err != nil {
						t.Fatalf("README.md:%d: %v", st.line, err)
					}
					if i+1 < len(steps) && steps[i+1].kind == "file" {
						continue
					}
					waitForGeneration(t, g, pending)
					pending = -1
					continue
				}
				commands++
				deadline := time.Now().Add(3 * time.Second)
				for {
					out, rc := sh.run(toTest.Replace(st.cmd))
					out = fromTest.Replace(out)
					problem := outputProblem(st, out)
					if rc != 0 {
						problem = fmt.Sprintf("exit status %d", rc)
					}
					if problem == "" {
						break
					}
					if strings.Contains(st.cmd, "decisions.log") && rc == 0 && time.Now().Before(deadline) {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					t.Errorf("README.md:%d: %s\ncommand:\n%s\noutput:\n%s\nexpected:\n%s%s\nbash stderr:\n%s",
						st.line, problem, st.cmd, out, st.wantAll, st.wantLast, sh.stderr.String())
					break
				}
			}
		})
	}
	if commands < 20 {
		t.Fatalf("ran %d commands from the README; the tour and the walkthrough have more", commands)
	}
}

// TestREADMEReasonTable keeps the README's reason-code table the registry's
// (gateway/problem: every code the gateway produces is declared there, and
// its own test fails for a code used anywhere else): every code is in the
// table with its status, and the table lists no other.
func TestREADMEReasonTable(t *testing.T) {
	lines, _ := readmeSection(t, "Reason codes")
	code := regexp.MustCompile("`([a-z0-9_]+)`")
	table := map[string]string{} // reason → status column
	for _, l := range lines {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cols := strings.Split(l, "|")
		for _, m := range code.FindAllStringSubmatch(cols[1], -1) {
			table[m[1]] = strings.TrimSpace(cols[2])
		}
	}
	codes := problem.Codes()
	if len(codes) < 50 {
		t.Fatalf("the registry has only %d reason codes", len(codes))
	}
	declared := map[string]bool{}
	for _, c := range codes {
		r := string(c.Reason)
		declared[r] = true
		status, ok := table[r]
		switch {
		case !ok:
			t.Errorf("README.md's Reason codes table lacks %s (%d, %s)", r, c.Status, c.Where)
		case c.Status != http.StatusOK && !strings.Contains(status, strconv.Itoa(c.Status)):
			t.Errorf("README.md's Reason codes table gives %s the status %q, the registry %d", r, status, c.Status)
		}
	}
	var stale []string
	for r := range table {
		if !declared[r] {
			stale = append(stale, r)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("README.md's Reason codes table lists reasons the registry does not declare: %s", strings.Join(stale, ", "))
	}
}
