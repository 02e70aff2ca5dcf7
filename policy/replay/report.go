package replay

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Reasons an event is not replayed, the keys of Report.Skipped.
const (
	// SkipNotEvaluated: the request was refused before the policy (no
	// route, authentication, validation, limits); by outcome reason in
	// Report.NotEvaluated.
	SkipNotEvaluated = "not_evaluated"
	// SkipOtherRule: the event was decided by a rule that is not the
	// decision rule now (policy.decision changed).
	SkipOtherRule = "other_decision_rule"
	// SkipNoInput: the event has no input document (erased).
	SkipNoInput = "no_input"
	// SkipResultErased: the logged result was erased, so there is nothing
	// to compare with.
	SkipResultErased = "result_erased"
	// SkipShadow: the event is a shadow bundle's record of a divergence,
	// a second event of a request already counted by its own.
	SkipShadow = "shadow"
	// SkipMalformed: the line is not a decision-log event.
	SkipMalformed = "malformed"
)

// Report is what a replay found. Its JSON form is `portcullis replay
// --output json`.
type Report struct {
	// Events is every record read; Replayed the events re-evaluated, of
	// which Unchanged kept their decision (allow or deny).
	Events    int `json:"events"`
	Replayed  int `json:"replayed"`
	Unchanged int `json:"unchanged"`
	// ReasonsChanged counts denies that stay denies with other reasons.
	ReasonsChanged int `json:"reasons_changed"`
	// Masked counts replayed events whose logged input the mask rule had
	// changed: they were evaluated as logged.
	Masked      int     `json:"masked"`
	AllowToDeny *Change `json:"allow_to_deny"`
	DenyToAllow *Change `json:"deny_to_allow"`
	// Skipped counts the events not replayed by Skip* reason;
	// NotEvaluated splits SkipNotEvaluated by the request's outcome reason.
	Skipped      map[string]int `json:"skipped"`
	NotEvaluated map[string]int `json:"not_evaluated"`
	// Malformed lists the first malformed records ("file:line: error").
	Malformed []string `json:"malformed,omitempty"`

	examples int
}

// Change is one direction of change.
type Change struct {
	Total int `json:"total"`
	// ByRoute and ByReason count the changes by route and by the deny's
	// reason (the new one for allow→deny, the old one for deny→allow).
	ByRoute  map[string]int `json:"by_route"`
	ByReason map[string]int `json:"by_reason"`
	Examples []Example      `json:"examples"`
}

// Example is one changed decision.
type Example struct {
	Pos        string   `json:"pos"`
	DecisionID string   `json:"decision_id"`
	Route      string   `json:"route"`
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	Subject    string   `json:"subject"`
	OldReasons []string `json:"old_reasons"`
	NewReasons []string `json:"new_reasons"`
}

func newReport(examples int) *Report {
	return &Report{
		AllowToDeny: newChange(), DenyToAllow: newChange(),
		Skipped: map[string]int{}, NotEvaluated: map[string]int{},
		examples: examples,
	}
}

func newChange() *Change {
	return &Change{ByRoute: map[string]int{}, ByReason: map[string]int{}, Examples: []Example{}}
}

// maxMalformed bounds Report.Malformed; Skipped counts them all.
const maxMalformed = 20

func (r *Report) add(pos string, o outcome) {
	r.Events++
	switch {
	case o.err != nil:
		r.Skipped[SkipMalformed]++
		if len(r.Malformed) < maxMalformed {
			r.Malformed = append(r.Malformed, pos+": "+o.err.Error())
		}
		return
	case o.skip != "":
		r.Skipped[o.skip]++
		if o.skip == SkipNotEvaluated {
			r.NotEvaluated[o.ev.Outcome]++
		}
		return
	}
	r.Replayed++
	if o.ev.Masked {
		r.Masked++
	}
	was, now := o.ev.Recorded, o.now
	var c *Change
	var reasons []string
	switch {
	case was.Allow == now.Allow:
		r.Unchanged++
		if !now.Allow && !sameSet(was.Reasons, now.Reasons) {
			r.ReasonsChanged++
		}
		return
	case was.Allow:
		c, reasons = r.AllowToDeny, now.Reasons
	default:
		c, reasons = r.DenyToAllow, was.Reasons
	}
	c.Total++
	c.ByRoute[o.ev.Route]++
	for _, reason := range reasons {
		c.ByReason[reason]++
	}
	if len(c.Examples) < r.examples {
		c.Examples = append(c.Examples, Example{
			Pos: pos, DecisionID: o.ev.DecisionID, Route: o.ev.Route, Method: o.ev.Method, Path: o.ev.RequestPath,
			Subject: o.ev.Subject, OldReasons: nonNil(was.Reasons), NewReasons: nonNil(now.Reasons),
		})
	}
}

// Changed is the number of decisions that changed.
func (r *Report) Changed() int { return r.AllowToDeny.Total + r.DenyToAllow.Total }

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%d events, %d replayed: %d unchanged, %d allow→deny, %d deny→allow\n",
		r.Events, r.Replayed, r.Unchanged, r.AllowToDeny.Total, r.DenyToAllow.Total)
	if r.ReasonsChanged > 0 {
		fmt.Fprintf(w, "%d denies kept with other reasons\n", r.ReasonsChanged)
	}
	if r.Masked > 0 {
		fmt.Fprintf(w, "%d replayed inputs were masked by the mask rule and replayed as logged\n", r.Masked)
	}
	for _, d := range []struct {
		title string
		c     *Change
	}{{"allow→deny", r.AllowToDeny}, {"deny→allow", r.DenyToAllow}} {
		if d.c.Total == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d\n  by route:  %s\n  by reason: %s\n", d.title, d.c.Total, counts(d.c.ByRoute), counts(d.c.ByReason))
		for _, e := range d.c.Examples {
			fmt.Fprintf(w, "  %s %s %s subject=%q route=%s reasons %v → %v (%s)\n",
				e.DecisionID, e.Method, e.Path, e.Subject, e.Route, e.OldReasons, e.NewReasons, e.Pos)
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "\nskipped: %s\n", counts(r.Skipped))
		if len(r.NotEvaluated) > 0 {
			fmt.Fprintf(w, "  never reached the policy: %s\n", counts(r.NotEvaluated))
		}
		for _, m := range r.Malformed {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
}

// counts is "a=3 b=1", largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if name == "" {
			name = `""`
		}
		parts[i] = fmt.Sprintf("%s=%d", name, m[k])
	}
	return strings.Join(parts, " ")
}
