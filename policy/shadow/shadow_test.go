package shadow

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/decisionlog"
	"github.com/portcullis/portcullis/policy/engine"
)

// getsOnly is a candidate that allows GET and nothing else.
const getsOnly = `decision := {"allow": input.request.method == "GET", "reasons": ["candidate"]}`

func candidate(t *testing.T, revision, rule string) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	for name, s := range map[string]string{
		".manifest":  `{"revision": "` + revision + `", "roots": ["portcullis"]}`,
		"authz.rego": "package portcullis.authz\n\n" + rule + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e, err := engine.New(context.Background(), engine.Options{
		Sources: []bundle.Source{{Name: "portcullis", Path: dir}}, Query: "data.portcullis.authz.decision",
		Timeout: 10 * time.Second, MaxBundleBytes: 1 << 20, MaskRule: "data.system.log.mask", DropRule: "data.system.log.drop",
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func request(route, method string) *policy.Input {
	return &policy.Input{
		Request:  policy.Request{Method: method, Path: "/x", Segments: []string{"x"}},
		Route:    policy.Route{Name: route},
		Identity: policy.Anonymous(),
	}
}

func newEvaluator(t *testing.T, o Options) *Evaluator {
	t.Helper()
	if o.Engine == nil {
		o.Engine = candidate(t, "c1", getsOnly)
	}
	if o.Sample == 0 {
		o.Sample = 1
	}
	if o.QueueSize == 0 {
		o.QueueSize = 100
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Counter.GetValue()
}

func TestEvaluatorCountsOutcomes(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newEvaluator(t, Options{Registerer: reg})
	e.Start()
	traffic := []struct {
		route, method string
		enforced      bool
	}{
		{"a", "GET", true},     // same
		{"a", "GET", false},    // deny_to_allow
		{"a", "DELETE", true},  // allow_to_deny
		{"a", "DELETE", true},  // allow_to_deny
		{"b", "DELETE", false}, // same
		{"b", "POST", true},    // allow_to_deny
	}
	for _, r := range traffic {
		if !e.Submit(request(r.route, r.method), &policy.Decision{Allow: r.enforced}, nil) {
			t.Fatal("a request with room in the queue was not queued")
		}
	}
	e.Close(context.Background())
	s := e.Status()
	if s.Evaluated != 6 || s.AllowToDeny != 3 || s.DenyToAllow != 1 || s.Diverged != 4 || s.Dropped != 0 || s.Queued != 0 {
		t.Errorf("status = %+v", s)
	}
	if len(s.Bundles) != 1 || s.Bundles[0].Revision != "c1" || len(s.Bundles[0].Hash) != 64 {
		t.Errorf("bundles = %+v", s.Bundles)
	}
	m := newMetricsOrFail(t, reg)
	for _, tc := range []struct {
		route, outcome string
		want           float64
	}{
		{"a", Same, 1}, {"a", DenyToAllow, 1}, {"a", AllowToDeny, 2},
		{"b", Same, 1}, {"b", AllowToDeny, 1}, {"b", DenyToAllow, 0},
	} {
		if got := value(t, m.total.WithLabelValues(tc.route, tc.outcome)); got != tc.want {
			t.Errorf("portcullis_policy_shadow_total{route=%q,outcome=%q} = %v, want %v", tc.route, tc.outcome, got, tc.want)
		}
	}
}

// newMetricsOrFail returns the collectors registered in reg (promreg hands
// back the existing ones).
func newMetricsOrFail(t *testing.T, reg prometheus.Registerer) *metrics {
	t.Helper()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEvaluatorDropsWhenFullAndNeverBlocks(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newEvaluator(t, Options{QueueSize: 2, Registerer: reg})
	// Not started: nothing drains the queue, so a blocking Submit would hang the test.
	queued := 0
	for range 5 {
		if e.Submit(request("a", "GET"), &policy.Decision{Allow: true}, nil) {
			queued++
		}
	}
	if s := e.Status(); queued != 2 || s.Dropped != 3 || s.Queued != 2 || s.Evaluated != 0 {
		t.Errorf("queued %d, status %+v", queued, s)
	}
	if got := value(t, newMetricsOrFail(t, reg).dropped); got != 3 {
		t.Errorf("portcullis_policy_shadow_dropped_total = %v, want 3", got)
	}
	e.Start()
	e.Close(context.Background())
	if s := e.Status(); s.Evaluated != 2 || s.Queued != 0 {
		t.Errorf("after Close: %+v (what was queued is evaluated)", s)
	}
}

func TestEvaluatorSamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		sample   float64
		min, max int
	}{
		{"sample 1 takes every request", 1, 2000, 2000},
		// Binomial(2000, 0.25): outside 350..650 has a probability below 1e-20.
		{"sample 0.25 takes about a quarter", 0.25, 350, 650},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEvaluator(t, Options{Sample: tc.sample, QueueSize: 2000})
			for range 2000 {
				e.Submit(request("a", "GET"), &policy.Decision{Allow: true}, nil)
			}
			if s := e.Status(); s.Queued < tc.min || s.Queued > tc.max || s.Dropped != 0 {
				t.Errorf("queued %d (want %d..%d), dropped %d", s.Queued, tc.min, tc.max, s.Dropped)
			}
		})
	}
}

func TestEvaluatorLogsDivergencesOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "decisions.log")
	sink, err := decisionlog.FileOptions{Path: path, MaxSize: 1 << 20, MaxAge: time.Hour}.Open(decisionlog.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := decisionlog.New(decisionlog.Options{SampleAllow: 1, SampleDeny: 1}, sink)
	if err != nil {
		t.Fatal(err)
	}
	e := newEvaluator(t, Options{Log: dl})
	e.Start()
	for _, r := range []struct {
		id, method string
		enforced   bool
	}{{"same", "GET", true}, {"narrowed", "PUT", true}, {"widened", "GET", false}} {
		in := request("a", r.method)
		e.Submit(in, &policy.Decision{Allow: r.enforced}, &decisionlog.Event{DecisionID: r.id, Input: in, Allow: r.enforced, Status: 200, Route: "a"})
	}
	e.Close(context.Background())
	if err := dl.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(written)), "\n")
	got := map[string]map[string]any{}
	for _, l := range lines {
		var ev struct {
			DecisionID string `json:"decision_id"`
			Portcullis struct {
				Allow  bool           `json:"allow"`
				Shadow map[string]any `json:"shadow"`
			} `json:"portcullis"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		got[ev.DecisionID] = ev.Portcullis.Shadow
	}
	if len(got) != 2 || got["same"] != nil {
		t.Fatalf("events %v, want one per divergence", got)
	}
	for id, want := range map[string]struct {
		allow   bool
		outcome string
	}{"narrowed": {false, AllowToDeny}, "widened": {true, DenyToAllow}} {
		s := got[id]
		b, _ := s["bundles"].(map[string]any)["portcullis"].(map[string]any)
		if s["allow"] != want.allow || s["outcome"] != want.outcome || b["revision"] != "c1" || len(b["hash"].(string)) != 64 {
			t.Errorf("%s: shadow = %v", id, s)
		}
	}
}

func TestEvaluatorContinuesCountsOfTheSameCandidate(t *testing.T) {
	t.Parallel()
	first := newEvaluator(t, Options{})
	first.Start()
	first.Submit(request("a", "PUT"), &policy.Decision{Allow: true}, nil)
	first.Close(context.Background())
	for _, tc := range []struct {
		name string
		eng  *engine.Engine
		want int64
	}{
		{"the same bundles rebuilt keep counting", candidate(t, "c1", getsOnly), 1},
		{"a changed candidate starts from zero", candidate(t, "c1", `decision := false`), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := newEvaluator(t, Options{Engine: tc.eng, Previous: first})
			if s := next.Status(); s.Evaluated != tc.want || s.AllowToDeny != tc.want {
				t.Errorf("status = %+v", s)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Sample: 0, QueueSize: 0})
	want := "shadow: no engine\nsample 0: want >0..1\nqueue size 0: want > 0"
	if err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
