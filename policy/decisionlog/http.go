package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// HTTP sink formats.
const (
	FormatNDJSON = "ndjson" // one event per line; gzip optional
	FormatOPA    = "opa"    // gzip-compressed JSON array, OPA's upload format
)

// HTTP sink behaviours when queue and spool are full.
const (
	OnFullDropOldest = "drop_oldest"
	OnFullFailClosed = "fail_closed"
)

// HTTPOptions configures the HTTP sink. It mirrors the gateway config's
// decision_log.http; every field without a stated "empty"/"false"
// meaning must be set.
type HTTPOptions struct {
	// URL receives POSTed batches. It must be https unless AllowInsecureHTTP.
	URL string
	// Format is FormatNDJSON, FormatOPA, FormatSplunkHEC or FormatElasticBulk.
	Format string
	// Gzip compresses the other formats' batches too (opa batches always are).
	Gzip bool
	// Headers are extra request headers, as HeaderLines renders them (a
	// string so that options stay comparable); empty sends none.
	Headers string
	// Splunk is the HEC metadata; FormatSplunkHEC requires its Token.
	Splunk SplunkOptions
	// ElasticIndex names the index per event, with a date pattern such as
	// "portcullis-%{+yyyy.MM.dd}"; FormatElasticBulk requires it.
	ElasticIndex string
	// BatchEvents and BatchBytes end a batch (a single larger event is
	// sent alone); FlushInterval sends a partial batch.
	BatchEvents   int
	BatchBytes    int64
	FlushInterval time.Duration
	// Timeout bounds one POST.
	Timeout time.Duration
	// BearerToken, or Username and Password, authenticate to the collector;
	// all empty sends no credentials.
	BearerToken        string
	Username, Password string
	// CAFile is a PEM bundle that replaces the system roots; empty keeps them.
	CAFile string
	// QueueEvents bounds the in-memory queue.
	QueueEvents int
	// MaxRetryDelay caps the exponential backoff (full jitter) between retries.
	MaxRetryDelay time.Duration
	// SpoolDir keeps batches on disk while the collector is down; empty
	// means no spool (OnFull then applies to the in-memory queue).
	SpoolDir string
	// SpoolMaxBytes bounds the spool directory; it must be set with SpoolDir.
	SpoolMaxBytes int64
	// OnFull is OnFullDropOldest or OnFullFailClosed.
	OnFull string
	// AllowInsecureHTTP permits an http:// URL.
	AllowInsecureHTTP bool
}

// validate returns an error naming every invalid field.
func (o HTTPOptions) validate() error {
	var errs []error
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || u.Host == "":
		errs = append(errs, fmt.Errorf("http.url: %q is not an absolute URL", o.URL))
	case u.Scheme != "https" && !(u.Scheme == "http" && o.AllowInsecureHTTP):
		errs = append(errs, fmt.Errorf("http.url: scheme %q (want https, or http with allow_insecure_http)", u.Scheme))
	}
	switch o.Format {
	case FormatNDJSON, FormatOPA:
	case FormatSplunkHEC:
		if o.Splunk.Token == "" {
			errs = append(errs, errors.New("http.splunk.token: is required with format splunk_hec"))
		}
		if o.BearerToken != "" || o.Username != "" || o.Password != "" {
			errs = append(errs, errors.New("http.splunk.token: cannot be combined with bearer_token or username/password"))
		}
	case FormatElasticBulk:
		if _, err := parseIndexPattern(o.ElasticIndex); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("http.format: %q (want %q, %q, %q or %q)", o.Format, FormatNDJSON, FormatOPA, FormatSplunkHEC, FormatElasticBulk))
	}
	if _, err := parseHeaders(o.Headers, o.BearerToken != "" || o.Username != "" || o.Password != "" || o.Splunk.Token != ""); err != nil {
		errs = append(errs, err)
	}
	if o.OnFull != OnFullDropOldest && o.OnFull != OnFullFailClosed {
		errs = append(errs, fmt.Errorf("http.on_full: %q (want %q or %q)", o.OnFull, OnFullDropOldest, OnFullFailClosed))
	}
	if o.BearerToken != "" && (o.Username != "" || o.Password != "") {
		errs = append(errs, errors.New("http.bearer_token: cannot be combined with username/password"))
	}
	if o.QueueEvents < 1 {
		errs = append(errs, fmt.Errorf("http.queue_events: %d (want at least 1)", o.QueueEvents))
	}
	if o.BatchEvents < 1 || o.BatchEvents > o.QueueEvents {
		errs = append(errs, fmt.Errorf("http.batch_events: %d (want 1..queue_events %d)", o.BatchEvents, o.QueueEvents))
	}
	for name, v := range map[string]time.Duration{"flush_interval": o.FlushInterval, "timeout": o.Timeout, "max_retry_delay": o.MaxRetryDelay} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("http.%s: %s (want a positive duration)", name, v))
		}
	}
	if o.BatchBytes < 1 {
		errs = append(errs, fmt.Errorf("http.batch_bytes: %d (want at least 1)", o.BatchBytes))
	}
	if o.SpoolDir != "" && o.SpoolMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("http.spool_max_bytes: %d (want at least 1 with a spool_dir)", o.SpoolMaxBytes))
	}
	return errors.Join(errs...)
}

// httpSink ships batches to a collector from one sender goroutine
// (sender.go); Write only pushes onto its queue.
type httpSink struct {
	holders
	o          HTTPOptions
	client     *http.Client
	q          *queue
	spool      *spool // nil without SpoolDir
	failClosed bool
	log        zerolog.Logger
	header     http.Header  // Headers, parsed
	host       string       // HEC host
	index      indexPattern // FormatElasticBulk

	sent, failed, bytes, delivered, retries, lost, rejected prometheus.Counter
	spoolErrs                                               prometheus.Counter
	spoolFailing                                            bool // sender goroutine only: a spool write failed, none succeeded since

	// runCtx bounds every POST; Close cancels it when its ctx is done.
	runCtx    context.Context
	cancelRun context.CancelFunc
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the sender has exited

	lastNanos int64 // batch naming, sender goroutine only
	seq       uint32
}

// batch is a run of events in queue order, as NDJSON.
type batch struct {
	name    string   // spool file name; lexical order is cut order
	data    []byte   // the events, each ending in '\n'
	events  int      // number of events
	items   [][]byte // the events as queued, to unshift; nil if read from the spool
	spooled bool     // a file in the spool holds it
	dropped bool     // a full drop_oldest spool dropped it (counted)
}

// Open starts the sink. It replays what a previous sink (of this or an
// earlier process) left in the spool directory.
func (o HTTPOptions) Open(env Env) (Sink, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	client, err := newClient(o)
	if err != nil {
		return nil, err
	}
	m, sm, err := openSinkMetrics(env, sinkHTTP)
	if err != nil {
		return nil, err
	}
	h := &httpSink{
		o:          o,
		client:     client,
		q:          newQueue(o, sm),
		failClosed: o.OnFull == OnFullFailClosed,
		log:        env.Logger.With().Str("sink", sinkHTTP).Logger(),
		sent:       m.batches.WithLabelValues(sinkHTTP, "sent"),
		failed:     m.batches.WithLabelValues(sinkHTTP, "failed"),
		bytes:      sm.bytes,
		delivered:  sm.delivered,
		retries:    m.retries.WithLabelValues(sinkHTTP),
		lost:       m.drops.WithLabelValues(sinkHTTP, dropShutdown),
		rejected:   m.drops.WithLabelValues(sinkHTTP, dropRejected),
		spoolErrs:  m.spoolErrors.WithLabelValues(sinkHTTP),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		host:       o.Splunk.Host,
	}
	// validate parsed both already.
	h.header, _ = parseHeaders(o.Headers, false)
	h.index, _ = parseIndexPattern(o.ElasticIndex)
	if h.host == "" {
		h.host = hostname()
	}
	if o.SpoolDir != "" {
		if h.spool, err = openSpool(o, m); err != nil {
			return nil, err
		}
		if !h.spool.empty() {
			h.log.Info().Int("batches", len(h.spool.files)).Int64("bytes", h.spool.bytes).Msg("decision log spool found, replaying")
		}
	}
	h.runCtx, h.cancelRun = context.WithCancel(context.Background())
	go h.run()
	return h, nil
}

// sinkHTTP is the HTTP sink's metric label.
const sinkHTTP = "http"

// newClient builds the collector client: TLS 1.2+, the CA file instead of
// the system roots if given, no redirects (they would carry credentials
// elsewhere; a 3xx is a failure).
func newClient(o HTTPOptions) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := loadCAPool("http.ca_file", o.CAFile)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Transport: t,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

func (h *httpSink) Write(b []byte) { h.q.push(b) }

func (h *httpSink) Options() SinkOptions { return h.o }

// Accepting is false when fail_closed and the queue is full (which, with
// a spool, means the spool is full too).
func (h *httpSink) Accepting() bool {
	return !h.failClosed || h.q.length.Load() < int64(h.o.QueueEvents)
}

// Reopen does nothing: every batch is a new request.
func (h *httpSink) Reopen() error { return nil }

// Close makes the sender deliver or spool everything, POSTing until ctx is
// done; it returns when the sender has exited. Spool writes finish even
// after ctx is done.
func (h *httpSink) Close(ctx context.Context) error {
	stopWatch := context.AfterFunc(ctx, h.cancelRun)
	defer stopWatch()
	close(h.stop)
	<-h.done
	h.cancelRun()
	h.client.CloseIdleConnections()
	return nil
}

// StatusError is a non-2xx answer of the collector.
type StatusError struct{ Status int }

// rejectsBatch tells an answer that refuses the batch itself, which no
// retry can change (400, 413, 422), from one worth retrying (5xx, 408,
// 429, and 401/403, which an operator fixes by correcting credentials).
func rejectsBatch(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusBadRequest ||
		se.Status == http.StatusRequestEntityTooLarge || se.Status == http.StatusUnprocessableEntity)
}

func (e *StatusError) Error() string { return fmt.Sprintf("collector answered %d", e.Status) }

// gzipPool reuses gzip writers, which are large.
var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// body encodes a batch in the configured format.
func (h *httpSink) body(data []byte) ([]byte, error) {
	var siem bytes.Buffer
	switch h.o.Format {
	case FormatSplunkHEC:
		if err := h.splunkHEC(&siem, data); err != nil {
			return nil, err
		}
		data = siem.Bytes()
	case FormatElasticBulk:
		if err := h.elasticBulk(&siem, data); err != nil {
			return nil, err
		}
		data = siem.Bytes()
	}
	if h.o.Format != FormatOPA && !h.o.Gzip {
		return data, nil
	}
	var buf bytes.Buffer
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(&buf)
	var err error
	if h.o.Format == FormatOPA {
		err = writeArray(zw, data)
	} else {
		_, err = zw.Write(data)
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return buf.Bytes(), err
}

// writeArray writes NDJSON events as a JSON array. An event is one line
// (strings escape newlines), so each '\n' separates two events.
func writeArray(w io.Writer, data []byte) error {
	if _, err := w.Write([]byte{'['}); err != nil {
		return err
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	for first := true; len(data) > 0; first = false {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		if !first {
			if _, err := w.Write([]byte{','}); err != nil {
				return err
			}
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		data = rest
	}
	_, err := w.Write([]byte{']'})
	return err
}

// post sends one batch once. Errors never include the body.
func (h *httpSink) post(ctx context.Context, b *batch) error {
	body, err := h.body(b.data)
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	switch h.o.Format {
	case FormatOPA, FormatSplunkHEC:
		req.Header.Set("Content-Type", "application/json")
	default:
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	if h.o.Format == FormatOPA || h.o.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range h.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "portcullis-decisionlog")
	switch {
	case h.o.Splunk.Token != "":
		req.Header.Set("Authorization", "Splunk "+h.o.Splunk.Token)
	case h.o.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+h.o.BearerToken)
	case h.o.Username != "" || h.o.Password != "":
		req.SetBasicAuth(h.o.Username, h.o.Password)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 && h.o.Format == FormatElasticBulk {
		// A 2xx _bulk answer can still refuse single items. About 100
		// bytes per item; the cap is for a misbehaving server.
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return fmt.Errorf("bulk response: %w", err)
		}
		return bulkResult(answer, b.data)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return &StatusError{Status: resp.StatusCode}
	}
	return nil
}

// cut takes a batch from the queue: a full one, or whatever is queued if
// partial; nil if there is none.
func (h *httpSink) cut(partial bool) *batch {
	items := h.q.take(h.o.BatchEvents, h.o.BatchBytes, partial)
	if items == nil {
		return nil
	}
	size := 0
	for _, e := range items {
		size += len(e)
	}
	data := make([]byte, 0, size)
	for _, e := range items {
		data = append(data, e...)
	}
	// Names must sort in cut order even if the wall clock steps back.
	now := max(time.Now().UnixNano(), h.lastNanos)
	h.lastNanos = now
	h.seq++
	return &batch{
		name:   fmt.Sprintf("%016x-%08x-%d%s", now, h.seq, len(items), spoolExt),
		data:   data,
		events: len(items),
		items:  items,
	}
}
