package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// needsString renders n as "all" or the sorted paths it needs whole.
func needsString(n *inputNeeds) string {
	if n.all {
		return "all"
	}
	var out []string
	var walk func(prefix string, n *inputNeeds)
	walk = func(prefix string, n *inputNeeds) {
		if n.all {
			out = append(out, prefix)
			return
		}
		for k, c := range n.keys {
			walk(strings.TrimPrefix(prefix+"."+k, "."), c)
		}
	}
	walk("", n)
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestAnalyzeInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, module, want string
	}{
		{"no input at all", `decision := true`, ""},
		{"two fields", `decision if { input.identity.method == "jwt"; input.request.segments[0] == "api" }`, "identity.method request.segments"},
		{"a claim", `decision if input.identity.claims.role == "admin"`, "identity.claims.role"},
		{"an array element needs the array", `decision if input.request.segments[0] == "api"`, "request.segments"},
		{"a header and a nested claim", `decision if { input.request.headers["user-agent"] == "x"; input.identity.claims.address.city == "Paris" }`, "identity.claims.address.city request.headers.user-agent"},
		{"a field and the section it is in", `decision if { input.identity.method == "jwt"; count(input.identity) > 1 }`, "identity"},
		{"a whole section", `decision if count(input.request) > 0`, "request"},
		{"iterating a section", "decision if {\n\tsome k\n\tinput.request[k] == 1\n}", "request"},
		{"a variable key at the top", "decision if {\n\tsome k\n\tinput[k] == 1\n}", "all"},
		{"input as a value", "x := input\ndecision if x.request.method == \"GET\"", "all"},
		{"input given to a builtin", "decision if {\n\twalk(input, [p, v])\n\tv == 1\n}", "all"},
		{"a section given to a function", "f(r) := r.method\ndecision if f(input.request) == \"GET\"", "request"},
		{"an import alias", "import input.identity as id\n\ndecision if id.method == \"jwt\"", "identity.method"},
		{"a reference inside a reference", `decision if input.request.headers[input.identity.subject] == "x"`, "identity.subject request.headers"},
		{"a computed key below a constant one", "decision if {\n\tsome k\n\tinput.identity.claims[k] == 1\n}", "identity.claims"},
		{"the target of with", "m := input.identity.method\ndecision if {\n\tx := m with input.identity.method as \"jwt\"\n\tx == \"jwt\"\n}", "identity.method"},
		{"else branches and comprehensions", "decision := x if {\n\tx := [g | some g in input.identity.groups]\n\tcount(x) > 0\n} else := input.route.name", "identity.groups route.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, Options{Sources: sources(authzBundle(t, "1", tc.module))})
			if got := needsString(e.state.Load().needs); got != tc.want {
				t.Fatalf("needs %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrunedInputHoldsOnlyWhatIsRead(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(authzBundle(t, "1", `decision if { input.identity.method == "jwt"; input.identity.claims.role == "user"; input.request.headers.accept != "" }`))})
	in := typicalInput()
	if d := e.Evaluate(context.Background(), in); !d.Allow {
		t.Fatalf("denied: %v", d.Err)
	}
	want := `{"identity": {"claims": {"role": "user"}, "method": "jwt"}, "request": {"headers": {"accept": "application/json"}}}`
	if got := inputValue(in, e.state.Load().needs).String(); got != want {
		t.Fatalf("evaluated input %s, want %s", got, want)
	}
}
