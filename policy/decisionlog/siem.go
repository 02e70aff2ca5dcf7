package decisionlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SIEM formats of the HTTP sink. The spool keeps NDJSON either way; the
// format is applied when a batch is POSTed.
const (
	// FormatSplunkHEC is Splunk's HTTP Event Collector: one
	// {"time","host","source","sourcetype","index","event"} object per
	// event, Authorization: Splunk <token>.
	FormatSplunkHEC = "splunk_hec"
	// FormatElasticBulk is the Elasticsearch/OpenSearch _bulk API: a
	// create action with the decision_id as _id, then the event. Creating
	// by id makes a resent batch harmless: the copy answers 409.
	FormatElasticBulk = "elasticsearch_bulk"
)

// SplunkOptions are the HEC event metadata (FormatSplunkHEC).
type SplunkOptions struct {
	Token      string // required; sent as Authorization: Splunk <token>
	Index      string // empty: the token's default index
	Source     string
	Sourcetype string
	Host       string // empty: the machine's host name
}

// HeaderLines renders extra request headers for HTTPOptions.Headers: one
// quoted name and value per line, sorted, so that equal maps give equal
// options and a newline in a value cannot start another header.
func HeaderLines(h map[string]string) string {
	lines := make([]string, 0, len(h))
	for k, v := range h {
		lines = append(lines, strconv.Quote(http.CanonicalHeaderKey(k))+strconv.Quote(v)+"\n")
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// reservedHeaders are set by the sink itself.
var reservedHeaders = []string{"Content-Type", "Content-Encoding", "Content-Length", "Host", "User-Agent"}

// parseHeaders reads HeaderLines back, refusing what the sink sets itself
// and an Authorization header when the sink authenticates already.
func parseHeaders(lines string, auth bool) (http.Header, error) {
	h := http.Header{}
	var errs []error
	for line := range strings.Lines(lines) {
		k, v, err := unquotePair(strings.TrimSuffix(line, "\n"))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("http.headers: %w", err))
		case k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n\x00"):
			errs = append(errs, fmt.Errorf("http.headers: %q: %q is not a header", k, v))
		case slices.Contains(reservedHeaders, k):
			errs = append(errs, fmt.Errorf("http.headers.%s: is set by the sink", k))
		case k == "Authorization" && auth:
			errs = append(errs, errors.New("http.headers.Authorization: cannot be combined with bearer_token, username/password or splunk.token"))
		default:
			h.Set(k, v)
		}
	}
	return h, errors.Join(errs...)
}

// unquotePair splits a HeaderLines line into its two quoted strings.
func unquotePair(line string) (string, string, error) {
	qk, err := strconv.QuotedPrefix(line)
	if err != nil {
		return "", "", err
	}
	k, _ := strconv.Unquote(qk)
	v, err := strconv.Unquote(line[len(qk):])
	return k, v, err
}

// indexPattern is an Elasticsearch index name with Logstash/Beats date
// placeholders, e.g. "portcullis-%{+yyyy.MM.dd}": the event's UTC time in
// Joda notation, limited to yyyy, MM, dd and HH.
type indexPattern struct {
	parts []string // literal text, and placeholders as Go layouts prefixed by "\x00"
}

// jodaLayouts maps the supported Joda tokens to Go layouts.
var jodaLayouts = strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15")

func parseIndexPattern(s string) (indexPattern, error) {
	var p indexPattern
	if s == "" {
		return p, errors.New("http.elasticsearch.index: is required")
	}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "%{+")
		if i < 0 {
			p.parts = append(p.parts, rest)
			break
		}
		if i > 0 {
			p.parts = append(p.parts, rest[:i])
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return p, fmt.Errorf("http.elasticsearch.index: %q has an unclosed %%{+", s)
		}
		joda := rest[i+3 : i+j]
		layout := jodaLayouts.Replace(joda)
		if joda == "" || strings.ContainsAny(layout, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return p, fmt.Errorf("http.elasticsearch.index: %q: date pattern %q (want yyyy, MM, dd, HH and separators)", s, joda)
		}
		p.parts = append(p.parts, "\x00"+layout)
		rest = rest[i+j+1:]
	}
	name := p.format(time.Unix(0, 0))
	// Elasticsearch's rules for index names.
	if name != strings.ToLower(name) || strings.ContainsAny(name, ` "*\/<>|,#?:`) || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+") {
		return p, fmt.Errorf("http.elasticsearch.index: %q is not a valid index name (lower case, no spaces or \\/*?\"<>|,#:, not starting with _ - +)", s)
	}
	return p, nil
}

func (p indexPattern) format(t time.Time) string {
	var b strings.Builder
	for _, part := range p.parts {
		if layout, ok := strings.CutPrefix(part, "\x00"); ok {
			b.WriteString(t.UTC().Format(layout))
		} else {
			b.WriteString(part)
		}
	}
	return b.String()
}

// eventMeta is what the SIEM formats read from an encoded event.
type eventMeta struct {
	DecisionID string    `json:"decision_id"`
	Timestamp  time.Time `json:"timestamp"`
}

// eachEvent calls f for every event line of an NDJSON batch.
func eachEvent(data []byte, f func(line []byte) error) error {
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		if err := f(line); err != nil {
			return err
		}
		data = rest
	}
	return nil
}

// splunkHEC writes a batch as HEC event objects, one per line (HEC reads
// concatenated objects).
func (h *httpSink) splunkHEC(buf *bytes.Buffer, data []byte) error {
	s := h.o.Splunk
	var meta []byte
	for _, kv := range [][2]string{{"host", h.host}, {"source", s.Source}, {"sourcetype", s.Sourcetype}, {"index", s.Index}} {
		if kv[1] != "" {
			meta = strconv.AppendQuote(append(meta, `,"`+kv[0]+`":`...), kv[1])
		}
	}
	return eachEvent(data, func(line []byte) error {
		var m eventMeta
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("event: %w", err)
		}
		// Seconds with milliseconds, HEC's "time".
		buf.WriteString(`{"time":`)
		buf.WriteString(strconv.FormatFloat(float64(m.Timestamp.UnixMilli())/1000, 'f', 3, 64))
		buf.Write(meta)
		buf.WriteString(`,"event":`)
		buf.Write(line)
		buf.WriteString("}\n")
		return nil
	})
}

// elasticBulk writes a batch as _bulk create actions and documents.
func (h *httpSink) elasticBulk(buf *bytes.Buffer, data []byte) error {
	return eachEvent(data, func(line []byte) error {
		var m eventMeta
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("event: %w", err)
		}
		action, _ := json.Marshal(map[string]map[string]string{"create": {"_index": h.index.format(m.Timestamp), "_id": m.DecisionID}})
		buf.Write(action)
		buf.WriteByte('\n')
		buf.Write(line)
		buf.WriteByte('\n')
		return nil
	})
}

// bulkResponse is the part of a _bulk answer the sink reads.
type bulkResponse struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]json.RawMessage `json:"items"`
}

type bulkItem struct {
	Status int `json:"status"`
}

// bulkError is a 2xx _bulk answer in which some items failed: retry
// holds the events worth sending again (429, 5xx), in order; rejected
// counts those refused for good (a mapping error, any other 4xx).
type bulkError struct {
	retry             []byte
	retried, rejected int
	delivered         int
}

func (e *bulkError) Error() string {
	return fmt.Sprintf("collector stored part of a batch: %d events to retry, %d rejected", e.retried, e.rejected)
}

// bulkResult checks a _bulk answer against the batch it answers. A
// create that answers 409 is a copy of an event already stored.
func bulkResult(body []byte, data []byte) error {
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("bulk response: %w", err)
	}
	if !r.Errors {
		return nil
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	if len(r.Items) != len(lines) {
		return fmt.Errorf("bulk response: %d items for %d events", len(r.Items), len(lines))
	}
	e := &bulkError{}
	for i, item := range r.Items {
		var it bulkItem
		for _, raw := range item { // one key: the action
			_ = json.Unmarshal(raw, &it)
		}
		switch {
		case it.Status/100 == 2 || it.Status == http.StatusConflict:
			e.delivered++
		case it.Status == http.StatusTooManyRequests || it.Status >= 500:
			e.retry = append(e.retry, lines[i]...)
			if !bytes.HasSuffix(lines[i], []byte{'\n'}) {
				e.retry = append(e.retry, '\n')
			}
			e.retried++
		default:
			e.rejected++
		}
	}
	return e
}

// hostname is the HEC host when none is configured.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// partial accounts for a _bulk answer that stored only part of b: the
// events stored count as delivered, the refused ones as rejected (they are
// not retried, as for a refused batch), and the rest are returned as a
// smaller batch in b's place (and spool file) to retry; nil if none are left.
func (h *httpSink) partial(b *batch, e *bulkError) *batch {
	h.delivered.Add(float64(e.delivered))
	if e.rejected > 0 {
		h.rejected.Add(float64(e.rejected))
		h.log.Error().Int("events", e.rejected).Msg("decision log collector refused events of a batch; they are not retried")
	}
	if e.retried == b.events {
		return b // nothing stored: retry b as it is
	}
	if e.retried == 0 {
		h.sent.Inc()
		if b.spooled {
			h.spool.remove(b.name)
		}
		return nil
	}
	// The name keeps b's place in the order; only the event count changes.
	prefix := b.name[:strings.LastIndexByte(b.name[:len(b.name)-len(spoolExt)], '-')+1]
	rest := &batch{name: fmt.Sprintf("%s%d%s", prefix, e.retried, spoolExt), data: e.retry, events: e.retried}
	if b.spooled {
		if h.spoolPut(rest, true) != nil {
			return b // resend all: stored events answer 409, counted as delivered again, never lost
		}
		h.spool.remove(b.name)
	}
	return rest
}
