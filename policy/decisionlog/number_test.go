package decisionlog

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestAppendFloatWritesWhatEncodingJSONWrites: a float64 (a claim decoded
// without UseNumber, a mask's upsert value) is written as encoding/json
// and OPA write it, integral values as integers.
func TestAppendFloatWritesWhatEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{
		0, 1, -2, 1796114918, 1.796114918e9, 1.5, -0.25, 1e20, 1e21, 1.5e300, 1e-6, 1e-7, 123e-20,
		math.MaxInt64, 1 << 53, 1<<53 + 2, math.SmallestNonzeroFloat64, math.MaxFloat64, 0.1 + 0.2,
	} {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	if got := string(appendFloat(nil, 1796114918)); got != "1796114918" {
		t.Errorf("a Unix time is written %s", got)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(appendFloat(nil, f)); got != "null" {
			t.Errorf("appendFloat(%v) = %s, want null (JSON has no such number)", f, got)
		}
	}
}

func TestAppendNumberWritesIntegralExponentsAsIntegers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"1.796114918e+09":        "1796114918",
		"1.796114918E9":          "1796114918",
		"1e3":                    "1000",
		"-2.5e1":                 "-25",
		"1.50e1":                 "15",
		"100e-2":                 "1",
		"0e5":                    "0",
		"0.0e0":                  "0",
		"0.0012e4":               "12",
		"1e20":                   "100000000000000000000",
		"1234567890123456789e2":  "123456789012345678900",
		"1796114918":             "1796114918",
		"123456789012345678901":  "123456789012345678901", // big and exact: kept
		"2.0":                    "2.0",                   // plain text is the writer's
		"1.5e0":                  "1.5e0",                 // not integral
		"1e-3":                   "1e-3",
		"1e21":                   "1e21", // 22 digits: kept short
		"1e999999":               "1e999999",
		"12345678901234567890e2": "12345678901234567890e2",
		"not a number":           "null",
	} {
		if got := string(appendNumber(nil, in)); got != want {
			t.Errorf("appendNumber(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzAppendNumber: whatever a number's text, the line gets a JSON number
// of the same value (or null for text that is not a number).
func FuzzAppendNumber(f *testing.F) {
	for _, s := range []string{"1.796114918e+09", "1e3", "-0.5E-2", "100e-2", "1.5", "0", "1e21", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(appendNumber(nil, s))
		if !validNumber(s) {
			if got != "null" {
				t.Fatalf("appendNumber(%q) = %s, want null", s, got)
			}
			return
		}
		if !validNumber(got) {
			t.Fatalf("appendNumber(%q) = %q, not a JSON number", s, got)
		}
		if got == s || len(s) > 64 {
			return // unchanged, or too large an exponent to compare cheaply
		}
		if strings.ContainsAny(got, ".eE") {
			t.Fatalf("appendNumber(%q) = %q: rewritten but not an integer", s, got)
		}
		a, okA := new(big.Rat).SetString(s)
		b, okB := new(big.Rat).SetString(got)
		if !okA || !okB || a.Cmp(b) != 0 {
			t.Fatalf("appendNumber(%q) = %q: the value changed", s, got)
		}
	})
}

// TestIntegerClaimsAreWrittenAsIntegers: OPA writes exp as 1796114918,
// wherever the number comes from: a json.Number claim (as the JWT
// verifier decodes it), a float64 claim, or a result computed by the
// policy. Big integers keep every digit.
func TestIntegerClaimsAreWrittenAsIntegers(t *testing.T) {
	t.Parallel()
	in := routedInput()
	in.Identity.Claims = map[string]any{
		"exp": json.Number("1796114918"), "iat": float64(1796111318), "nbf": json.Number("1.7961e+09"),
		"big": json.Number("123456789012345678901"), "ratio": 0.5,
	}
	ev := goldenEvent()
	ev.Input = in
	ev.Result = ast.MustParseTerm(`{"allow": true, "exp": 1.796114918e+09}`).Value
	line := logLine(t, Options{}, ev)
	for _, want := range []string{
		`"exp":1796114918`, `"iat":1796111318`, `"nbf":1796100000`, `"big":123456789012345678901`, `"ratio":0.5`,
		`"result":{"allow":true,"exp":1796114918}`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("the event lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "e+09") {
		t.Errorf("the event holds an exponent:\n%s", line)
	}
}
