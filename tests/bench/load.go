package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// requestSpec describes the request a target is driven with. Requests are
// built fresh for each exchange (bodies are readers), the same way for
// every target.
type requestSpec struct {
	method      string
	url         string
	paths       []string // when set, appended to url round robin, with the same index as values
	body        []byte   // nil for none
	contentType string   // sent with a body
	header      string   // credential header; "" for none
	values      []string // its values, used round robin (the token pool)
}

// newRequest returns request number i.
func (s *requestSpec) newRequest(ctx context.Context, i int) (*http.Request, error) {
	var body io.Reader = http.NoBody
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	u := s.url
	if s.paths != nil {
		u += s.paths[i%len(s.paths)]
	}
	req, err := http.NewRequestWithContext(ctx, s.method, u, body)
	if err != nil {
		return nil, err
	}
	if s.body != nil {
		req.Header["Content-Type"] = []string{s.contentType}
	}
	if s.header != "" {
		req.Header[s.header] = []string{s.values[i%len(s.values)]}
	}
	return req, nil
}

// statusOf sends spec's first request and returns the answer's status.
func statusOf(ctx context.Context, c *http.Client, spec *requestSpec) (int, error) {
	req, err := spec.newRequest(ctx, 0)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// newClient returns a keep-alive client with one pooled connection per
// worker, so connections are never opened during a measurement.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second, // bounds every exchange, also on a hung target
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// outcome is what a phase measured; workers fill their own and merge.
type outcome struct {
	latency  histogram // from the intended send time (open loop) or the send
	service  histogram // from the actual send (open loop only)
	requests uint64    // completed exchanges, any status
	failed   uint64    // transport errors and non-2xx answers
	missed   uint64    // open loop: scheduled requests never sent in time
	status   map[int]uint64
	failure  string // the first failure, for the error message
	elapsed  time.Duration
}

func (o *outcome) merge(p *outcome) {
	o.latency.merge(&p.latency)
	o.service.merge(&p.service)
	o.requests += p.requests
	o.failed += p.failed
	o.missed += p.missed
	for s, n := range p.status {
		if o.status == nil {
			o.status = map[int]uint64{}
		}
		o.status[s] += n
	}
	if o.failure == "" {
		o.failure = p.failure
	}
}

// exchange sends request i, reads the whole answer and counts it. It
// returns false when the benchmark must stop (ctx ended).
func (o *outcome) exchange(ctx context.Context, c *http.Client, spec *requestSpec, i int) bool {
	req, err := spec.newRequest(ctx, i)
	if err != nil {
		o.fail(0, err.Error())
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		o.fail(0, err.Error())
		return true
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		o.requests++
		return true
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	o.requests++
	o.fail(resp.StatusCode, fmt.Sprintf("%s %s: %d %s", spec.method, spec.url, resp.StatusCode, bytes.TrimSpace(b)))
	return true
}

func (o *outcome) fail(status int, msg string) {
	o.failed++
	if o.status == nil {
		o.status = map[int]uint64{}
	}
	o.status[status]++ // 0 counts transport errors
	if o.failure == "" {
		o.failure = msg
	}
}

// closedLoop drives spec with concurrency workers, each sending its next
// request as soon as the previous answer is read, for dur.
func closedLoop(ctx context.Context, c *http.Client, spec *requestSpec, concurrency int, dur time.Duration) *outcome {
	deadline := time.Now().Add(dur)
	return fanOut(concurrency, func(id int, o *outcome) {
		for k := 0; ctx.Err() == nil; k++ {
			t0 := time.Now()
			if !t0.Before(deadline) {
				return
			}
			if !o.exchange(ctx, c, spec, k*concurrency+id) {
				return
			}
			o.latency.record(time.Since(t0))
		}
	})
}

// fanOut runs work on concurrency workers, each with its own outcome, and
// returns their merged outcome with the elapsed time.
func fanOut(concurrency int, work func(id int, o *outcome)) *outcome {
	workers := make([]outcome, concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for id := range concurrency {
		wg.Go(func() { work(id, &workers[id]) })
	}
	wg.Wait()
	total := &outcome{elapsed: time.Since(start)}
	for i := range workers {
		total.merge(&workers[i])
	}
	return total
}

// prime sends every credential of spec once, so that a verified-token cache
// starts warm, as it is in production where a token is used many times
// during its life. Without it the first rounds would measure RS256
// verification of never-seen tokens rather than the gateway's steady state.
func prime(ctx context.Context, c *http.Client, spec *requestSpec, concurrency int) *outcome {
	return fanOut(concurrency, func(id int, o *outcome) {
		for i := id; i < len(spec.values) && ctx.Err() == nil; i += concurrency {
			if !o.exchange(ctx, c, spec, i) {
				return
			}
		}
	})
}

// openLoop sends rate requests per second for dur on a fixed schedule,
// spread over concurrency workers (wrk2's model). Latency counts from the
// time a request was due, so a target that falls behind is charged for the
// queueing it causes (no coordinated omission); service time counts from
// the actual send. A request not sent within dur plus a grace of dur/2 is
// counted as missed, which bounds the phase's length.
func openLoop(ctx context.Context, c *http.Client, spec *requestSpec, concurrency int, rate float64, dur time.Duration) *outcome {
	start := time.Now()
	end, hardEnd := start.Add(dur), start.Add(dur+dur/2)
	every := time.Duration(float64(time.Second) / rate)
	return fanOut(concurrency, func(id int, o *outcome) {
		for k := 0; ; k++ {
			n := k*concurrency + id
			due := start.Add(time.Duration(n) * every)
			if !due.Before(end) || ctx.Err() != nil {
				return
			}
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			t0 := time.Now()
			if t0.After(hardEnd) {
				o.missed += uint64(end.Sub(due)/(time.Duration(concurrency)*every)) + 1
				return
			}
			if !o.exchange(ctx, c, spec, n) {
				return
			}
			t1 := time.Now()
			o.latency.record(t1.Sub(due))
			o.service.record(t1.Sub(t0))
		}
	})
}
