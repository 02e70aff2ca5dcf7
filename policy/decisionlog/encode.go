package decisionlog

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/policy"
)

// linePool holds buffers for encoding an event line; buffers that grew
// past maxLine are not kept.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxLine = 1 << 16

// putLine gives a line buffer back to linePool.
func putLine(bp *[]byte) {
	if cap(*bp) <= maxLine {
		linePool.Put(bp)
	}
}

// encode writes the event line, ending in '\n', into a buffer of linePool.
// The JSON is appended directly, not through the gateway's log library, so
// no log level or hook can silence or change the audit stream. An input or
// result that cannot be encoded is erased (and recorded so) rather than
// losing the event.
func (l *Logger) encode(ev *Event, id string, ts time.Time, d *doc) *[]byte {
	bp := linePool.Get().(*[]byte)
	// Key order follows OPA's EventV1, then our own object.
	b := append((*bp)[:0], `{"labels":`...)
	b = append(b, l.labels...)
	b = appendString(append(b, `,"decision_id":`...), id)
	if ev.TraceID != "" {
		b = appendString(append(b, `,"trace_id":`...), ev.TraceID)
	}
	if len(ev.Bundles) > 0 {
		b = l.bundles.appendTo(append(b, `,"bundles":`...), ev.Bundles, ev.Path)
	} else {
		b = appendPath(b, ev.Path)
	}
	b = l.appendDoc(b, `,"input":`, rootInput, d.input, id, d)
	b = l.appendDoc(b, `,"result":`, rootResult, d.result, id, d)
	if len(d.erased) > 0 {
		b = appendStrings(append(b, `,"erased":`...), d.erased)
	}
	if len(d.masked) > 0 {
		b = appendStrings(append(b, `,"masked":`...), d.masked)
	}
	if ev.Error != "" {
		b = append(appendString(append(b, `,"error":{"message":`...), ev.Error), '}')
	}
	if ev.RequestedBy != "" {
		b = appendString(append(b, `,"requested_by":`...), ev.RequestedBy)
	}
	if len(ev.RequestHeaders) > 0 {
		b = append(b, `,"request_context":{"http":{"headers":{`...)
		b = append(appendHeaderMembers(b, ev.RequestHeaders), "}}}"...)
	}
	b = append(l.timestamps.appendTo(append(b, `,"timestamp":"`...), ts), '"')
	b = strconv.AppendInt(append(b, `,"metrics":{"timer_rego_query_eval_ns":`...), ev.EvalDuration.Nanoseconds(), 10)
	// The latency is written twice (OPA's metric and our own): formatted once.
	var lb [20]byte
	latency := strconv.AppendInt(lb[:0], ev.Latency.Nanoseconds(), 10)
	b = append(append(b, `,"timer_server_handler_ns":`...), latency...)
	b = strconv.AppendBool(append(b, `},"portcullis":{"allow":`...), ev.Allow)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(ev.Status), 10)
	b = appendStrings(append(b, `,"reasons":`...), ev.Reasons)
	b = appendString(append(b, `,"route":`...), ev.Route)
	b = appendCaller(b, ev)
	if len(ev.Credentials) > 0 {
		b = append(b, `,"credentials":[`...)
		for i, c := range ev.Credentials {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(b, `{"kind":`...), c.Kind)
			b = append(appendString(append(b, `,"source":`...), c.Source), '}')
		}
		b = append(b, ']')
	}
	if ev.RawPath != "" {
		b = appendRawPath(b, ev.RawPath)
	}
	b = append(append(b, `,"latency_ns":`...), latency...)
	b = strconv.AppendInt(append(b, `,"upstream_status":`...), int64(ev.UpstreamStatus), 10)
	if ev.ForwardedPath != "" {
		b = appendString(append(b, `,"forwarded_path":`...), ev.ForwardedPath)
	}
	b = strconv.AppendBool(append(b, `,"cached":`...), ev.Cached)
	if s := ev.Shadow; s != nil {
		b = strconv.AppendBool(append(b, `,"shadow":{"allow":`...), s.Allow)
		b = appendString(append(b, `,"outcome":`...), s.Outcome)
		b = appendStrings(append(b, `,"reasons":`...), s.Reasons)
		b = appendBundles(append(b, `,"bundles":`...), s.Bundles)
		b = append(b, '}')
	}
	b = append(b, "}}\n"...)
	*bp = b
	return bp
}

// appendCaller appends portcullis.subject, consumer and authn. When they
// are those of a cached token's identity (the gateway sets them from it),
// they are copied from the second part of the identity's cell, encoded
// with the identity: the values are compared, so an event that says
// otherwise is written as it says.
func appendCaller(b []byte, ev *Event) []byte {
	if in, ok := ev.Input.(*policy.Input); ok && in.Identity != nil && in.Identity.JSON != nil {
		id := in.Identity
		if ev.Subject == id.Subject && ev.Consumer == id.Consumer && ev.AuthnMethod == id.Method {
			if _, j, err := identityParts(id); err == nil && len(j) > 0 { // empty: a cell filled by Get
				return append(b, j...)
			}
		}
	}
	return appendCallerFields(b, ev.Subject, ev.Consumer, ev.AuthnMethod)
}

func appendCallerFields(b []byte, subject, consumer, method string) []byte {
	b = appendString(append(b, `,"subject":`...), subject)
	b = appendString(append(b, `,"consumer":`...), consumer)
	return appendString(append(b, `,"authn":`...), method)
}

// appendBundles appends OPA's bundles object, {name: {"revision": ...}},
// with the content hash beside each revision.
func appendBundles(b []byte, bundles map[string]policy.BundleID) []byte {
	b = append(b, '{')
	var kb [keyBuf]pair[policy.BundleID]
	for i, p := range sortedPairs(kb[:0], bundles) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, p.k), `:{"revision":`...)
		b = appendString(b, p.v.Revision)
		b = append(appendString(append(b, `,"hash":`...), p.v.Hash), '}')
	}
	return append(b, '}')
}

// appendHeaderMembers appends the members of request_context.http.headers,
// in a remembered order with their names encoded when there is one.
func appendHeaderMembers(b []byte, hs []Header) []byte {
	if ko, ok := orderedHeaders(hs); ok {
		for i, j := range ko.perm {
			b = appendStrings(ko.appendKey(b, i, hs[j].Name), hs[j].Values)
		}
		return b
	}
	var hb [keyBuf]Header
	for i, h := range sortedHeaders(hb[:0], hs) {
		b = appendStrings(appendName(b, i, h.Name), h.Values)
	}
	return b
}

// sortedHeaders returns hs in name order, a name given more than once
// once, appended to buf (a caller's array holds the few headers configured).
func sortedHeaders(buf, hs []Header) []Header {
	out := append(buf[:0], hs...)
	slices.SortStableFunc(out, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b Header) bool { return a.Name == b.Name })
}

// appendDoc appends key and v, the input or result, unless v is nil; a v
// that cannot be encoded is left out and recorded as erased.
func (l *Logger) appendDoc(b []byte, key, root string, v any, id string, d *doc) []byte {
	if v == nil {
		return b
	}
	start := len(b)
	b, err := appendJSON(append(b, key...), v)
	if err != nil {
		l.log.Error().Err(err).Str("decision_id", id).Msg("decision log " + root + " not encodable, erased")
		d.erased = append(d.erased, "/"+root)
		return b[:start]
	}
	return b
}

// appendRawPath adds raw_path, cut to MaxRawPath bytes (at a rune
// boundary, so the cut adds no U+FFFD of its own) and flagged when cut.
func appendRawPath(b []byte, raw string) []byte {
	if len(raw) <= MaxRawPath {
		return appendString(append(b, `,"raw_path":`...), raw)
	}
	cut := MaxRawPath
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return append(appendString(append(b, `,"raw_path":`...), raw[:cut]), `,"raw_path_truncated":true`...)
}
