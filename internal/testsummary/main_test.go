package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/go-test.json is `go test -json ./...` of a module with a
// passing package, a failing test with subtests, a skip, a panic, a build
// error and a package without tests; go-test.golden is what it renders to.
func TestRenderGo(t *testing.T) {
	in, err := os.ReadFile("testdata/go-test.json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c, err := RenderGo(bytes.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Kind: "go", Packages: 4, Passed: 2, Failed: 3, Skipped: 1, SubPassed: 3, SubFailed: 1}
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	golden, err := os.ReadFile("testdata/go-test.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String() + c.Line() + "\n"; got != string(golden) {
		t.Fatalf("rendered:\n%s\nwant:\n%s", got, golden)
	}
	for _, s := range []string{
		"a_test.go:5: boom",                         // a failing test's output
		"panic: kaboom",                             // a panic
		"undefined: undefined",                      // a build error
		"FAIL\texample.com/ts/c [build failed]",     // its package
		"ok  \texample.com/ts/e",                    // a passing package's line
		"?   \texample.com/ts/d\t[no test files]\n", // a package without tests
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
	for _, s := range []string{"quiet when passing", "=== RUN   TestOK", "later"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("output of passing or skipped tests shown: %q", s)
		}
	}
}

func TestRenderRego(t *testing.T) {
	tests := []struct {
		in   string
		want Counts
	}{
		{"PASS: 19/19\n", Counts{Kind: "rego", Passed: 19}},
		{"bundles/x_test.rego:\ndata.x.test_a: FAIL (1ms)\n----\nPASS: 17/19\nFAIL: 1/19\nSKIPPED: 1/19\n", Counts{Kind: "rego", Passed: 17, Failed: 1, Skipped: 1}},
		{"1 error occurred: x.rego:3: rego_parse_error: unexpected eof\n", Counts{Kind: "rego", Failed: 1}},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		c, err := RenderRego(strings.NewReader(tc.in), &out)
		if err != nil || c != tc.want || out.String() != tc.in {
			t.Errorf("%q: %+v, %v, output %q; want %+v and the input copied", tc.in, c, err, out.String(), tc.want)
		}
	}
}

func TestReportEndsWithThePlainTotals(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "counts")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"rego", "-counts", file}, strings.NewReader("PASS: 19/19\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("rego: exit %d, %s", code, stderr.String())
	}
	in, _ := os.ReadFile("testdata/go-test.json")
	if code := run([]string{"go", "-counts", file}, bytes.NewReader(in), &stdout, &stderr); code != 1 {
		t.Fatalf("go with failures: exit %d, want 1", code)
	}
	stdout.Reset()
	if code := run([]string{"report", file}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("report with failures: exit %d, want 1", code)
	}
	want := "summary: 4 packages, 2 tests passed, 3 failed, 1 skipped (subtests: 3 passed, 1 failed, 0 skipped); rego: 19 passed, 0 failed, 0 skipped\n" +
		"21 passed, 3 failed, 1 skipped\n"
	if stdout.String() != want {
		t.Fatalf("report:\n%s\nwant:\n%s", stdout.String(), want)
	}
	ok := filepath.Join(dir, "ok")
	_ = os.WriteFile(ok, []byte(`{"Kind":"go","Packages":1,"Passed":3}`+"\n"), 0o644)
	stdout.Reset()
	if code := run([]string{"report", ok}, nil, &stdout, &stderr); code != 0 || !strings.HasSuffix(stdout.String(), "\n3 passed, 0 failed, 0 skipped\n") {
		t.Fatalf("exit %d, %q", code, stdout.String())
	}
}
