package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/policy"
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

// TestPrunedInputDecidesAsTheWholeDocument evaluates policies that read
// different parts of the input with the pruned document (Evaluate) and the
// whole one (EvaluateValue), and wants the same decisions.
func TestPrunedInputDecidesAsTheWholeDocument(t *testing.T) {
	t.Parallel()
	policies := map[string]string{
		"example":            exampleBundle,
		"headers and claims": authzBundle(t, "1", `decision := {"allow": input.request.headers["user-agent"] == "curl/8.5", "reasons": [object.get(input.identity.claims, "role", "none")]}`),
		"single keys":        authzBundle(t, "1", "default role := \"none\"\n\nrole := input.identity.claims.role\n\ndefault page := \"none\"\n\npage := input.request.query.page[0]\n\ndecision := {\"allow\": input.request.headers[\"user-agent\"] == \"curl/8.5\", \"reasons\": [role, page, object.get(input.request.headers, \"accept\", \"-\")]}"),
		"sections as values": authzBundle(t, "1", "decision := {\"allow\": count(input.request) > 3, \"reasons\": [sprintf(\"%v\", [input.route])]}"),
		"the whole input":    authzBundle(t, "1", "decision := {\"allow\": true, \"reasons\": [json.marshal(input)]}"),
		"opa-envoy fields":   authzBundle(t, "1", "decision := {\"allow\": true, \"reasons\": [sprintf(\"%v %v %v\", [object.get(input, \"parsed_path\", 0), object.get(input, [\"attributes\", \"request\", \"http\", \"path\"], 0), object.get(input, \"parsed_body\", 0)])]}"),
		"route fields":       authzBundle(t, "1", "decision := {\"allow\": true, \"reasons\": [input.route.operation_id, input.route.path_params.id, sprintf(\"%v\", [input.route.tags])]}"),
		"opa-envoy source":   authzBundle(t, "1", "decision := {\"allow\": true, \"reasons\": [sprintf(\"%v %v %v\", [input.attributes.source.address.socketAddress.portValue, input.attributes.request.http.id, input.attributes.request.http.method])]}"),
		"opa-envoy refs":     authzBundle(t, "1", "decision := {\"allow\": true, \"reasons\": [sprintf(\"%v %v\", [input.parsed_path, input.attributes.request.http.headers])]}"),
	}
	inputs := []*policy.Input{typicalInput()}
	anon := typicalInput()
	anon.Identity = nil
	post := typicalInput()
	post.Request.Method, post.Request.Body, post.Request.RawBody = "POST", map[string]any{"name": "x"}, []byte(`{"name":"x"}`)
	post.OPAEnvoy = true
	admin := typicalInput()
	admin.Request.Path, admin.Request.Segments = "/api/v1/admin/x", []string{"api", "v1", "admin", "x"}
	admin.Route.PathParams = map[string]string{"id": "x", "other": "y"}
	key := typicalInput()
	key.Identity = &policy.Identity{Authenticated: true, Method: policy.MethodAPIKey, Consumer: "partner", Groups: []string{"read-access"}, Memo: new(policy.Memo)}
	inputs = append(inputs, anon, post, admin, key)
	for name, src := range policies {
		e := newEngine(t, Options{Sources: sources(src)})
		for i, in := range inputs {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				pruned := e.Evaluate(context.Background(), in)
				whole := e.EvaluateValue(context.Background(), InputValue(in))
				if (pruned.Err == nil) != (whole.Err == nil) || pruned.Allow != whole.Allow || !slices.Equal(pruned.Reasons, whole.Reasons) {
					t.Fatalf("pruned input decides %v %q (%v), the whole document %v %q (%v)",
						pruned.Allow, pruned.Reasons, pruned.Err, whole.Allow, whole.Reasons, whole.Err)
				}
			})
		}
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
