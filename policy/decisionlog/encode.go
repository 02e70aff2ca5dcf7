package decisionlog

import (
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// errDisabled means zerolog.SetGlobalLevel(zerolog.Disabled) was called:
// zerolog then writes nothing, decision events included.
var errDisabled = errors.New("zerolog global level is disabled")

// scratchPool holds buffers for the parts of an event encoded before
// zerolog copies them; buffers that grew past maxScratch are not kept.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxScratch = 1 << 16

// span is s[start:end] of the scratch buffer, set once it stops growing.
type span struct{ start, end int }

// encode writes the event line through zerolog, whose pooled buffer is
// handed once to every sink by fanout. An input or result that cannot be
// encoded is erased (and recorded so) rather than losing the event.
func (l *Logger) encode(ev *Event, id string, ts time.Time, d *doc) error {
	sp := scratchPool.Get().(*[]byte)
	defer func() {
		if cap(*sp) <= maxScratch {
			scratchPool.Put(sp)
		}
	}()
	s := (*sp)[:0]
	var in, out, bundles, headers, creds, stamp span
	var err error
	if d.input != nil {
		if s, in, err = appendSpan(s, d.input); err != nil {
			l.log.Error().Err(err).Str("decision_id", id).Msg("decision log input not encodable, erased")
			d.erased = append(d.erased, "/"+rootInput)
		}
	}
	if d.result != nil {
		if s, out, err = appendSpan(s, d.result); err != nil {
			l.log.Error().Err(err).Str("decision_id", id).Msg("decision log result not encodable, erased")
			d.erased = append(d.erased, "/"+rootResult)
		}
	}
	if len(ev.Bundles) > 0 {
		bundles.start = len(s)
		s = append(s, '{')
		for i, name := range sortedKeys(ev.Bundles) {
			if i > 0 {
				s = append(s, ',')
			}
			s = append(appendString(s, name), `:{"revision":`...)
			s = append(appendString(s, ev.Bundles[name]), '}')
		}
		s = append(s, '}')
		bundles.end = len(s)
	}
	if len(ev.RequestHeaders) > 0 {
		headers.start = len(s)
		s = append(s, `{"http":{"headers":{`...)
		for i, name := range sortedKeys(ev.RequestHeaders) {
			if i > 0 {
				s = append(s, ',')
			}
			s = append(appendString(s, name), ':', '[')
			for j, v := range ev.RequestHeaders[name] {
				if j > 0 {
					s = append(s, ',')
				}
				s = appendString(s, v)
			}
			s = append(s, ']')
		}
		s = append(s, "}}}"...)
		headers.end = len(s)
	}
	if len(ev.Credentials) > 0 {
		creds.start = len(s)
		s = append(s, '[')
		for i, c := range ev.Credentials {
			if i > 0 {
				s = append(s, ',')
			}
			s = appendString(append(s, `{"kind":`...), c.Kind)
			s = append(appendString(append(s, `,"source":`...), c.Source), '}')
		}
		s = append(s, ']')
		creds.end = len(s)
	}
	stamp.start = len(s)
	s = append(ts.UTC().AppendFormat(append(s, '"'), time.RFC3339Nano), '"')
	stamp.end = len(s)
	*sp = s

	e := l.zl.Log()
	if e == nil {
		return errDisabled
	}
	// Key order follows OPA's EventV1, then our own object.
	e.RawJSON("labels", l.labels).Str("decision_id", id)
	if ev.TraceID != "" {
		e.Str("trace_id", ev.TraceID)
	}
	if bundles.end > 0 {
		e.RawJSON("bundles", s[bundles.start:bundles.end])
	}
	e.Str("path", ev.Path)
	if in.end > 0 {
		e.RawJSON("input", s[in.start:in.end])
	}
	if out.end > 0 {
		e.RawJSON("result", s[out.start:out.end])
	}
	if len(d.erased) > 0 {
		e.Strs("erased", d.erased)
	}
	if len(d.masked) > 0 {
		e.Strs("masked", d.masked)
	}
	if ev.Error != "" {
		e.Dict("error", zerolog.Dict().Str("message", ev.Error))
	}
	if ev.RequestedBy != "" {
		e.Str("requested_by", ev.RequestedBy)
	}
	if headers.end > 0 {
		e.RawJSON("request_context", s[headers.start:headers.end])
	}
	p := zerolog.Dict().
		Bool("allow", ev.Allow).
		Int("status", ev.Status).
		Strs("reasons", ev.Reasons).
		Str("route", ev.Route).
		Str("subject", ev.Subject).
		Str("consumer", ev.Consumer).
		Str("authn", ev.AuthnMethod)
	if creds.end > 0 {
		p.RawJSON("credentials", s[creds.start:creds.end])
	}
	if ev.RawPath != "" {
		appendRawPath(p, ev.RawPath)
	}
	e.RawJSON("timestamp", s[stamp.start:stamp.end]).
		Dict("metrics", zerolog.Dict().
			Int64("timer_rego_query_eval_ns", ev.EvalDuration.Nanoseconds()).
			Int64("timer_server_handler_ns", ev.Latency.Nanoseconds())).
		Dict("portcullis", p.
			Int64("latency_ns", ev.Latency.Nanoseconds()).
			Int("upstream_status", ev.UpstreamStatus).
			Func(func(d *zerolog.Event) { forwarded(d, ev) }).
			Bool("cached", ev.Cached)).
		Send()
	return nil
}

// appendRawPath adds raw_path, cut to MaxRawPath bytes (at a rune
// boundary, so the cut adds no U+FFFD of its own) and flagged when cut.
func appendRawPath(p *zerolog.Event, raw string) {
	if len(raw) <= MaxRawPath {
		p.Str("raw_path", raw)
		return
	}
	cut := MaxRawPath
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	p.Str("raw_path", raw[:cut]).Bool("raw_path_truncated", true)
}

// forwarded adds the path sent upstream, when there was one.
func forwarded(d *zerolog.Event, ev *Event) {
	if ev.ForwardedPath != "" {
		d.Str("forwarded_path", ev.ForwardedPath)
	}
}

// appendSpan appends v as JSON and returns where it is; on error s is
// returned unchanged and the span is empty.
func appendSpan(s []byte, v any) ([]byte, span, error) {
	start := len(s)
	s, err := appendJSON(s, v)
	if err != nil {
		return s[:start], span{}, err
	}
	return s, span{start, len(s)}, nil
}
