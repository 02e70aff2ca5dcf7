package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/bundle"
)

// The differential test evaluates every bundle of the repository, the
// differential test bundles (testdata/differential) and policies that read
// the input in different ways with the production evaluator (fastEvaluator,
// its decision cache on) and with the reference (refEvaluator, plain rego),
// on the inputs of the bundles' tests and on generated inputs, and wants
// the same decisions. The mask and drop rules, evaluated by the same
// topdown query, are compared on the tests' inputs and on events too.

// diffSet is one set of bundles, loaded together, under test.
type diffSet struct {
	name       string
	e          *Engine
	fast, ref  evaluator
	mask, drop *rego.PreparedEvalQuery
	words      []string // the strings of its modules, for generated inputs
	docs       []any    // the inputs of its tests
	skipped    int      // test inputs that depend on their test's variables
	hits       int      // decisions the production evaluator answered from its cache
}

// diffSources are the bundle sets: name to bundle directories.
func diffSources(t testing.TB) map[string][]string {
	t.Helper()
	allowAll, err := os.ReadFile("../../tests/bench/allowall.rego")
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]string{
		"bundles":  {exampleBundle, "../../bundles/logmask"},
		"allowall": {writeFiles(t, t.TempDir(), map[string]string{".manifest": `{"roots": ["portcullis"]}`, "authz.rego": string(allowAll)})},
	}
	dirs, err := filepath.Glob("testdata/differential/*/.manifest")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no differential bundles: %v", err)
	}
	for _, d := range dirs {
		sets[filepath.Base(filepath.Dir(d))] = []string{filepath.Dir(d)}
	}
	for name, body := range map[string]string{
		"headers and claims": `decision := {"allow": input.request.headers["user-agent"] == "curl/8.5", "reasons": [object.get(input.identity.claims, "role", "none")]}`,
		"single keys":        "default role := \"none\"\n\nrole := input.identity.claims.role\n\ndefault page := \"none\"\n\npage := input.request.query.page[0]\n\ndecision := {\"allow\": input.request.headers[\"user-agent\"] == \"curl/8.5\", \"reasons\": [role, page, object.get(input.request.headers, \"accept\", \"-\")]}",
		"sections as values": "decision := {\"allow\": count(input.request) > 3, \"reasons\": [sprintf(\"%v\", [input.route])]}",
		"the whole input":    "decision := {\"allow\": true, \"reasons\": [json.marshal(input)]}",
		"walking the input":  "decision := {\"allow\": true, \"reasons\": sort([concat(\"/\", [sprintf(\"%v\", [x]) | some x in p]) | walk(input, [p, _])])}",
		"opa-envoy fields":   "decision := {\"allow\": true, \"reasons\": [sprintf(\"%v %v %v\", [object.get(input, \"parsed_path\", 0), object.get(input, [\"attributes\", \"request\", \"http\", \"path\"], 0), object.get(input, \"parsed_body\", 0)])]}",
		"route fields":       "decision := {\"allow\": true, \"reasons\": [input.route.operation_id, input.route.path_params.id, sprintf(\"%v\", [input.route.tags])]}",
		"opa-envoy source":   "decision := {\"allow\": true, \"reasons\": [sprintf(\"%v %v %v\", [input.attributes.source.address.socketAddress.portValue, input.attributes.request.http.id, input.attributes.request.http.method])]}",
		"opa-envoy refs":     "decision := {\"allow\": true, \"reasons\": [sprintf(\"%v %v\", [input.parsed_path, input.attributes.request.http.headers])]}",
		"numbers and body":   "decision := {\"allow\": input.request.body.n == 1, \"reasons\": [json.marshal(input.request.body), sprintf(\"%v\", [input.identity.claims.exp])]}",
	} {
		sets[name] = []string{authzBundle(t, "1", body)}
	}
	return sets
}

// loadDiffSets loads every set with its reference and its tests' inputs.
func loadDiffSets(t testing.TB) []*diffSet {
	t.Helper()
	ctx := context.Background()
	var out []*diffSet
	for name, dirs := range diffSources(t) {
		e := newEngine(t, Options{Sources: sources(dirs...), DecisionCacheSize: 64})
		c := e.state.Load()
		s := &diffSet{name: name, e: e, fast: c.eval, ref: newRefEvaluator(t, e)}
		if c.mask != nil {
			pq := prepareRef(t, c, e.opts.MaskRule)
			s.mask = &pq
		}
		if c.drop != nil {
			pq := prepareRef(t, c, e.opts.DropRule)
			s.drop = &pq
		}
		loaded, err := bundle.Load(ctx, sources(dirs...), bundle.Options{MaxBytes: withRules(Options{}).MaxBundleBytes})
		if err != nil {
			t.Fatal(err)
		}
		s.docs, s.skipped = testInputs(t, loaded)
		s.words = policyWords(c.decision.compiler)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *diffSet) int { return strings.Compare(a.name, b.name) })
	return out
}

func TestDifferential(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, s := range loadDiffSets(t) {
		t.Run(s.name, func(t *testing.T) {
			for i, doc := range s.docs {
				s.check(ctx, t, fmt.Sprintf("test input %d", i), inputOf(doc))
				s.checkMask(ctx, t, fmt.Sprintf("test input %d", i), doc)
			}
			g := newInputGen(rand.NewPCG(1, uint64(len(s.name))), s.words)
			for i := range 400 {
				in := g.input()
				s.check(ctx, t, fmt.Sprintf("generated input %d", i), in)
				s.check(ctx, t, fmt.Sprintf("generated input %d with its numbers as decimals", i), decimals(in))
				if i%8 == 0 {
					s.checkMask(ctx, t, fmt.Sprintf("generated event %d", i), event(in))
				}
			}
			t.Logf("%d test inputs (%d skipped), 400 generated; %d cache hits (cache %s)", len(s.docs), s.skipped, s.hits, s.e.state.Load().cacheState())
			if s.e.state.Load().cache != nil && s.hits == 0 {
				t.Error("the decision cache answered nothing: the test does not exercise it")
			}
		})
	}
}

// TestDifferentialReadsTheBundlesTests guards the extraction: the
// repository's bundles have tests with inputs, and they are found.
func TestDifferentialReadsTheBundlesTests(t *testing.T) {
	t.Parallel()
	for _, s := range loadDiffSets(t) {
		if want := map[string]int{"bundles": 31, "contract": 8, "inputs": 3}[s.name]; len(s.docs) < want || s.skipped > 0 {
			t.Errorf("%s: %d test inputs (%d skipped), want at least %d", s.name, len(s.docs), s.skipped, want)
		}
	}
}

func FuzzDifferential(f *testing.F) {
	sets := loadDiffSets(f)
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "GET", "admin", []byte(`{"name": "x", "n": 1}`))
	f.Add([]byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9"), "api", "full-access", []byte(`[1.0, 1e400, "é"]`))
	f.Add([]byte{}, "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, choices []byte, a, b string, body []byte) {
		ctx := context.Background()
		for _, s := range sets {
			g := newInputGen(newByteSource(choices), append([]string{a, b}, s.words...))
			in := g.input()
			if v, ok := jsonBody(body); ok {
				in.Request.Body, in.Request.RawBody = v, body
			}
			s.check(ctx, t, s.name, in)
		}
	})
}

// check wants the same decision for in from the production evaluator
// (twice: the second may come from the decision cache) and the reference.
func (s *diffSet) check(ctx context.Context, t testing.TB, what string, in *policy.Input) {
	t.Helper()
	want := normalize(s.ref.eval(ctx, in))
	for _, try := range []string{"evaluated", "again"} {
		d := s.fast.eval(ctx, in)
		if d.Cached {
			s.hits++
		}
		if got := normalize(d); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %s (%s): the production evaluator decides\n\t%+v\nplain rego\n\t%+v\ninput %s", s.name, what, try, got, want, InputValue(in))
		}
	}
}

// checkMask wants the same mask and drop values for the event doc from
// the engine's queries and from plain rego.
func (s *diffSet) checkMask(ctx context.Context, t testing.TB, what string, doc any) {
	t.Helper()
	c := s.e.state.Load()
	v, err := ast.InterfaceToValue(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		q   *query
		ref *rego.PreparedEvalQuery
	}{{c.mask, s.mask}, {c.drop, s.drop}} {
		if r.q == nil {
			continue
		}
		got, errGot := evalRule(ctx, r.q, v)
		want, errWant := evalRef(ctx, *r.ref, doc)
		var wantJSON any
		if want != nil {
			wantJSON, _ = ast.JSON(want)
		}
		if !reflect.DeepEqual(got, wantJSON) || fmt.Sprint(errGot) != fmt.Sprint(errWant) {
			t.Fatalf("%s: %s: the engine's query gives %v (%v), plain rego %v (%v)", s.name, what, got, errGot, wantJSON, errWant)
		}
	}
}

// normalDecision is a decision as compared: without the evaluation time
// and the cache flag, the raw result as JSON (sets as sorted arrays, as
// plain rego returns them), an error as its text.
type normalDecision struct {
	Allow                    bool
	Status                   int
	Reasons, RemoveHeaders   []string
	Headers, ResponseHeaders map[string]string
	Body                     string
	Bundles                  map[string]policy.BundleID
	Result                   any
	Err                      string
}

func normalize(d *policy.Decision) normalDecision {
	n := normalDecision{
		Allow: d.Allow, Status: d.Status, Reasons: d.Reasons, RemoveHeaders: d.RemoveHeaders,
		Headers: d.Headers, ResponseHeaders: d.ResponseHeaders, Body: d.Body, Bundles: d.Bundles,
	}
	if v, ok := d.Result.(ast.Value); ok {
		n.Result, _ = ast.JSON(v)
	}
	if d.Err != nil {
		n.Err = d.Err.Error()
	}
	return n
}

// event is a decision-log event of in, as the mask rule sees it.
func event(in *policy.Input) any {
	doc, _ := ast.JSON(InputValue(in))
	return map[string]any{"input": doc, "path": "portcullis/authz/decision", "decision_id": "d-1"}
}

// testInputs returns the value of every `with input as X` in the test
// modules of loaded, X evaluated in its module (a literal, a rule, a
// function call). Inside `every v in D` (nested or not) X is evaluated for
// each v of D, so a test that loops over spellings gives one input per
// spelling. Those that use other variables of their test cannot be
// evaluated apart from it; they are counted in skipped.
func testInputs(t testing.TB, loaded []*bundle.Loaded) (docs []any, skipped int) {
	t.Helper()
	compiler := ast.NewCompiler()
	if compiler.Compile(modulesOf(loaded, true)); compiler.Failed() {
		t.Fatal(compiler.Errors)
	}
	data, err := mergeData(loaded)
	if err != nil {
		t.Fatal(err)
	}
	store := inmem.NewFromObject(data)
	for _, l := range loaded {
		for _, m := range l.Tests {
			loops := everyLoops(m.Parsed)
			ast.WalkExprs(m.Parsed, func(x *ast.Expr) bool {
				for _, w := range x.With {
					if !w.Target.Value.(ast.Ref).Equal(ast.InputRootRef) {
						continue
					}
					// x = [X | some v in D ...] over the enclosing loops.
					body := make(ast.Body, 0, len(loops[x]))
					for _, ev := range loops[x] {
						member := ast.Member.Call(ev.Value.Copy(), ev.Domain.Copy())
						if ev.Key != nil {
							member = ast.MemberWithKey.Call(ev.Key.Copy(), ev.Value.Copy(), ev.Domain.Copy())
						}
						body = append(body, ast.NewExpr(&ast.SomeDecl{Symbols: []*ast.Term{member}}))
					}
					query := ast.Equality.Expr(ast.VarTerm("x"), w.Value.Copy())
					if len(body) > 0 {
						query = ast.Equality.Expr(ast.VarTerm("x"), ast.ArrayComprehensionTerm(w.Value.Copy(), body))
					}
					rs, err := rego.New(
						rego.ParsedQuery(ast.NewBody(query)),
						rego.Compiler(compiler), rego.Store(store),
						rego.ParsedPackage(m.Parsed.Package), rego.ParsedImports(m.Parsed.Imports),
					).Eval(context.Background())
					if err != nil || len(rs) != 1 {
						skipped++
						continue
					}
					if each, ok := rs[0].Bindings["x"].([]any); ok && len(body) > 0 {
						docs = append(docs, each...)
					} else {
						docs = append(docs, rs[0].Bindings["x"])
					}
				}
				return false
			})
		}
	}
	return docs, skipped
}

// everyLoops maps every expression of m inside `every` bodies to the
// loops around it, outermost first.
func everyLoops(m *ast.Module) map[*ast.Expr][]*ast.Every {
	loops := map[*ast.Expr][]*ast.Every{}
	ast.WalkExprs(m, func(x *ast.Expr) bool {
		ev, ok := x.Terms.(*ast.Every)
		if !ok {
			return false
		}
		outer := loops[x]
		ast.WalkExprs(ev.Body, func(inner *ast.Expr) bool {
			loops[inner] = append(append([]*ast.Every(nil), outer...), ev)
			return false
		})
		return false
	})
	return loops
}

// policyWords returns the short strings of the compiled modules, sorted.
func policyWords(compiler *ast.Compiler) []string {
	seen := map[string]bool{}
	for _, m := range compiler.Modules {
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if s, ok := t.Value.(ast.String); ok && len(s) < 40 {
				seen[string(s)] = true
			}
			return false
		})
	}
	words := make([]string, 0, len(seen))
	for w := range seen {
		words = append(words, w)
	}
	slices.Sort(words)
	return words
}

// inputOf is the request input that the input document doc (a test's
// literal) describes; what the gateway cannot express is dropped.
func inputOf(doc any) *policy.Input {
	m, _ := doc.(map[string]any)
	req := obj(m, "request")
	in := &policy.Input{Request: policy.Request{
		ID: str(req, "id"), Method: str(req, "method"), Path: str(req, "path"), Segments: strs(req["segments"]),
		Host: str(req, "host"), Scheme: str(req, "scheme"), Headers: strMap(req["headers"]),
		RemoteAddr: str(req, "remote_addr"), ClientIP: str(req, "client_ip"), Body: req["body"], BodyTruncated: req["body_truncated"] == true,
	}}
	if q := obj(req, "query"); q != nil {
		in.Request.Query = map[string][]string{}
		for k, v := range q {
			in.Request.Query[k] = strs(v)
		}
	}
	if rt := obj(m, "route"); rt != nil {
		in.Route = policy.Route{Name: str(rt, "name"), OperationID: str(rt, "operation_id"), PathParams: strMap(rt["path_params"]), Tags: strs(rt["tags"])}
	}
	if id := obj(m, "identity"); id != nil {
		in.Identity = &policy.Identity{
			Authenticated: id["authenticated"] == true, Method: str(id, "method"), Subject: str(id, "subject"),
			Issuer: str(id, "issuer"), Consumer: str(id, "consumer"), Groups: strs(id["groups"]), Scopes: strs(id["scopes"]),
			Claims: obj(id, "claims"), KeyID: str(id, "key_id"),
		}
	}
	if v := obj(m, "validation"); v != nil {
		in.Validation = policy.Validation{Ran: true, Valid: v["valid"] == true}
		errs, _ := v["errors"].([]any)
		for _, e := range errs {
			e, _ := e.(map[string]any)
			in.Validation.Errors = append(in.Validation.Errors, policy.ValidationError{Name: str(e, "name"), In: str(e, "in"), Reason: str(e, "reason")})
		}
	}
	if http := obj(obj(obj(m, "attributes"), "request"), "http"); http != nil || m["parsed_path"] != nil {
		in.OPAEnvoy = true
		in.Request.Method = orElse(in.Request.Method, str(http, "method"))
		if in.Request.Headers == nil {
			in.Request.Headers = strMap(http["headers"])
		}
		if in.Request.Segments == nil {
			in.Request.Segments = strs(m["parsed_path"])
		}
		if b, ok := http["body"].(string); ok {
			in.Request.RawBody = []byte(b)
		}
	}
	return in
}

// orElse is a, or b when a is empty.
func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func obj(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	return o
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func strMap(v any) map[string]string {
	o, _ := v.(map[string]any)
	out := make(map[string]string, len(o))
	for k, e := range o {
		if s, ok := e.(string); ok {
			out[k] = s
		}
	}
	return out
}

// inputGen generates request inputs, deterministically from its source,
// with words from a vocabulary (the policy's strings) and the gateway's
// own: methods, paths and their segments, identities of every method with
// groups, scopes and claims, headers, query, bodies, validation results,
// the OPA-Envoy fields, and fields left out.
type inputGen struct {
	r     *rand.Rand
	words []string
}

func newInputGen(src rand.Source, words []string) *inputGen {
	base := []string{"GET", "HEAD", "POST", "DELETE", "api", "v1", "admin", "users", "public", "jwt", "introspection", "api_key", "anonymous", "role", "tenant", "acme", "page", "2", "user-agent", "curl/8.5"}
	return &inputGen{r: rand.New(src), words: append(base, words...)}
}

func (g *inputGen) word() string { return g.words[g.r.IntN(len(g.words))] }

// one reports true one time in n.
func (g *inputGen) one(n int) bool { return g.r.IntN(n) == 0 }

func (g *inputGen) list(max int) []string {
	out := make([]string, g.r.IntN(max+1))
	for i := range out {
		out[i] = g.word()
	}
	return out
}

func (g *inputGen) strMap(max int) map[string]string {
	out := map[string]string{}
	for range g.r.IntN(max + 1) {
		out[strings.ToLower(g.word())] = g.word()
	}
	return out
}

// value is a JSON-like value: strings, numbers as the gateway passes them
// (float64 claims, json.Number bodies), booleans, null, arrays, objects.
func (g *inputGen) value(depth int) any {
	switch k := g.r.IntN(8); {
	case k == 0:
		return nil
	case k == 1:
		return g.one(2)
	case k == 2:
		return float64(g.r.IntN(5))
	case k == 3:
		return json.Number([]string{"1", "1.0", "2", "-0", "1e3", "0.5"}[g.r.IntN(6)])
	case k == 4 && depth > 0:
		out := make([]any, g.r.IntN(3))
		for i := range out {
			out[i] = g.value(depth - 1)
		}
		return out
	case k == 5 && depth > 0:
		out := map[string]any{}
		for range g.r.IntN(3) {
			out[g.word()] = g.value(depth - 1)
		}
		return out
	}
	return g.word()
}

func (g *inputGen) input() *policy.Input {
	segs := g.list(4)
	in := &policy.Input{Request: policy.Request{
		ID: "req-" + strconv.Itoa(g.r.IntN(3)), Method: g.word(), Path: "/" + strings.Join(segs, "/"), Segments: segs,
		Host: g.word(), Scheme: []string{"http", "https"}[g.r.IntN(2)], Headers: g.strMap(3),
		RemoteAddr: []string{"192.0.2.7:51234", "192.0.2.8", "[2001:db8::1]:443"}[g.r.IntN(3)],
		ClientIP:   []string{"192.0.2.7", "", "2001:db8::1"}[g.r.IntN(3)],
	}}
	if !g.one(3) {
		in.Request.Query = map[string][]string{}
		for range g.r.IntN(3) {
			in.Request.Query[g.word()] = g.list(2)
		}
	}
	switch g.r.IntN(4) {
	case 0:
		body := map[string]any{"name": g.word(), "n": g.value(0)}
		if g.one(2) {
			body[g.word()] = g.value(2)
		}
		in.Request.Body = body
		in.Request.RawBody, _ = json.Marshal(body)
	case 1:
		in.Request.BodyTruncated = true
	}
	if !g.one(4) {
		in.Route = policy.Route{Name: g.word(), OperationID: g.word(), PathParams: g.strMap(2), Tags: g.list(2)}
	}
	if !g.one(5) {
		id := &policy.Identity{
			Authenticated: !g.one(4), Method: g.word(), Subject: g.word(), Issuer: g.word(), Consumer: g.word(),
			Groups: g.list(3), Scopes: g.list(2), KeyID: g.word(),
		}
		if !g.one(4) {
			id.Claims = map[string]any{"role": g.word(), "exp": 1.7e9}
			for range g.r.IntN(3) {
				id.Claims[g.word()] = g.value(2)
			}
		}
		if g.one(3) {
			id.Memo = new(policy.Memo)
		}
		in.Identity = id
	}
	if g.one(2) {
		in.Validation = policy.Validation{Ran: true, Valid: g.one(2)}
		if !in.Validation.Valid {
			in.Validation.Errors = []policy.ValidationError{{Name: "/" + g.word(), In: "body", Reason: g.word()}}
		}
	}
	in.OPAEnvoy = g.one(3)
	return in
}

// decimals is in with the numbers of its body and claims written with a
// fraction (1 as 1.0): the same numbers to Rego's equality, not to
// json.marshal or sprintf, so a decision made for one must not answer
// for the other.
func decimals(in *policy.Input) *policy.Input {
	out := *in
	out.Request.Body = decimalValue(in.Request.Body)
	if in.Identity != nil {
		id := *in.Identity
		id.Claims, _ = decimalValue(in.Identity.Claims).(map[string]any)
		id.Memo = nil
		out.Identity = &id
	}
	return &out
}

func decimalValue(v any) any {
	switch v := v.(type) {
	case float64:
		return json.Number(strconv.FormatFloat(v, 'f', 1, 64))
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			return v + ".0"
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = decimalValue(e)
		}
		return out
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = decimalValue(e)
		}
		return out
	}
	return v
}

// byteSource is a rand.Source reading the fuzzer's bytes, then a fixed
// generator (a source of zeros would never end rand's rejection sampling).
type byteSource struct {
	b    []byte
	rest *rand.PCG
}

func newByteSource(b []byte) *byteSource {
	return &byteSource{b: b, rest: rand.NewPCG(uint64(len(b)), 0)}
}

func (s *byteSource) Uint64() uint64 {
	if len(s.b) == 0 {
		return s.rest.Uint64()
	}
	var buf [8]byte
	n := copy(buf[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

// jsonBody parses a fuzzed body as the gateway does (numbers as written).
func jsonBody(raw []byte) (any, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, false
	}
	return v, true
}
