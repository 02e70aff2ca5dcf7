package replay

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/engine"
)

// Options configures a replay.
type Options struct {
	// Engine holds the candidate bundles. Required.
	Engine *engine.Engine
	// Decision is the decision rule (policy.decision, "data.a.b"). Events
	// logged for another rule are skipped. Required.
	Decision string
	// Examples is how many changed decisions of each direction the report
	// lists.
	Examples int
	// Workers parse and evaluate events in parallel; 0 is GOMAXPROCS.
	Workers int
	// Emit, when non-nil, receives every event that reached the policy,
	// in log order (see Emitter).
	Emit func(*Event)
}

// Input is one log to replay.
type Input struct {
	Name string
	R    io.Reader
}

// batch is the unit of work: records read in order, their outcomes
// filled by a worker; done is closed when they are.
type batch struct {
	recs []Record
	outs []outcome
	done chan struct{}
}

type outcome struct {
	ev   *Event
	err  error // malformed
	skip string
	now  *policy.Decision
}

const batchSize = 256

// Run replays every event of logs, in order, and returns the report. Events
// are parsed and evaluated by Workers goroutines; the report is the same
// as a sequential replay's. The error is a log that cannot be read.
func Run(ctx context.Context, o Options, logs []Input) (*Report, error) {
	if o.Engine == nil || !strings.HasPrefix(o.Decision, "data.") {
		return nil, errors.New("replay: an engine and a data. decision rule are required")
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Parse only what the policy reads of each input, and what the report
	// shows; emitted tests inline the whole input.
	var keep *Keep
	if o.Emit == nil {
		keep = NewKeep(append(o.Engine.InputPaths(), []string{"request", "method"}, []string{"request", "path"})...)
	}
	path := strings.ReplaceAll(strings.TrimPrefix(o.Decision, "data."), ".", "/")
	todo := make(chan *batch, workers*2)
	ordered := make(chan *batch, workers*4)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range todo {
				b.outs = make([]outcome, len(b.recs))
				for i, r := range b.recs {
					b.outs[i] = decide(ctx, o.Engine, path, keep, r)
				}
				close(b.done)
			}
		})
	}
	var readErr error
	go func() {
		defer close(ordered)
		defer close(todo)
		cur := &batch{done: make(chan struct{})}
		flush := func() {
			todo <- cur
			ordered <- cur
			cur = &batch{done: make(chan struct{})}
		}
		for _, l := range logs {
			err := Read(l.R, l.Name, func(r Record) {
				cur.recs = append(cur.recs, r)
				if len(cur.recs) == batchSize {
					flush()
				}
			})
			if err != nil {
				readErr = err
				break
			}
		}
		flush()
	}()
	rep := newReport(o.Examples)
	for b := range ordered {
		<-b.done
		for i, out := range b.outs {
			rep.add(b.recs[i].Pos, out)
			if o.Emit != nil && out.now != nil {
				o.Emit(out.ev)
			}
		}
	}
	wg.Wait()
	if readErr != nil {
		return rep, readErr
	}
	return rep, nil
}

// decide parses r, with the parts of its input keep keeps, and
// re-evaluates it when it reached the policy of the decision rule at path.
func decide(ctx context.Context, eng *engine.Engine, path string, keep *Keep, r Record) outcome {
	ev, err := ParseEvent(r.Data, keep)
	switch {
	case err != nil:
		return outcome{err: err}
	case ev.Shadow:
		return outcome{ev: ev, skip: SkipShadow}
	case ev.ResultErased:
		return outcome{ev: ev, skip: SkipResultErased}
	case ev.Recorded == nil:
		return outcome{ev: ev, skip: SkipNotEvaluated}
	case ev.Path != path:
		return outcome{ev: ev, skip: SkipOtherRule}
	case ev.Input == nil:
		return outcome{ev: ev, skip: SkipNoInput}
	}
	return outcome{ev: ev, now: eng.EvaluateLogged(ctx, ev.Input)}
}
