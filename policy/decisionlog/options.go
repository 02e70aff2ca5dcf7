package decisionlog

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Options configures a Logger. The zero value logs nothing anywhere.
type Options struct {
	// Version is labels.version (the gateway version).
	Version string
	// Labels are added to every event's labels; labels.id (a UUID per
	// process) and labels.version are always set and win over these.
	Labels map[string]string
	// Erase lists JSON pointers under /input or /result removed from every
	// event before the Masker sees it (RFC 6901; "~1" is "/", "~0" is "~").
	Erase []string
	// Masker is the data.system.log.mask/drop rule. If nil, there is none.
	Masker Masker
	// SampleAllow and SampleDeny are the fractions (0..1) of allow and deny
	// events kept; deny is any non-allow outcome. Zero keeps none, so the
	// gateway passes its configured values (default 1).
	SampleAllow, SampleDeny float64

	// Stdout, if not nil, receives one JSON line per event.
	Stdout io.Writer
	// File, if not nil, writes events to a rotated file.
	File *FileOptions
	// HTTP, if not nil, ships events to a collector.
	HTTP *HTTPOptions
	// Syslog, if not nil, sends events to a syslog receiver (best effort).
	Syslog *SyslogOptions

	// Logger is the gateway's own log, for sink errors. Event contents are
	// never written to it.
	Logger zerolog.Logger
	// Registerer receives the metrics. If nil, they are not registered.
	Registerer prometheus.Registerer
	// Now is the clock for events without a Timestamp. If nil, time.Now.
	Now func() time.Time
}

// FileOptions configures the file sink, rotated by lumberjack.
type FileOptions struct {
	Path string
	// MaxSize is the size in bytes at which the file is rotated, rounded up
	// to whole MiB. Required (decision_log.file.max_size).
	MaxSize int64
	// MaxAge is how long rotated files are kept, rounded up to whole days.
	// Required (decision_log.file.max_age).
	MaxAge time.Duration
	// MaxBackups is how many rotated files are kept; 0 keeps all (within MaxAge).
	MaxBackups int
	// Compress gzips rotated files.
	Compress bool
}

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
// decision_log.http, whose defaults config.Load sets; a zero is refused.
type HTTPOptions struct {
	// URL receives POSTed batches. It must be https unless AllowInsecureHTTP.
	URL string
	// Format is FormatNDJSON or FormatOPA.
	Format string
	// Gzip compresses ndjson batches too (opa batches always are).
	Gzip bool
	// BatchEvents and BatchBytes end a batch (a single larger event is
	// sent alone); FlushInterval sends a partial batch.
	BatchEvents   int
	BatchBytes    int64
	FlushInterval time.Duration
	// Timeout bounds one POST.
	Timeout time.Duration
	// BearerToken, or Username and Password, authenticate to the collector.
	BearerToken        string
	Username, Password string
	// CAFile is a PEM bundle that replaces the system roots.
	CAFile string
	// QueueEvents bounds the in-memory queue.
	QueueEvents int
	// MaxRetryDelay caps the exponential backoff (full jitter) between retries.
	MaxRetryDelay time.Duration
	// SpoolDir keeps batches on disk while the collector is down; empty
	// means no spool (OnFull then applies to the in-memory queue).
	SpoolDir string
	// SpoolMaxBytes bounds the spool directory.
	SpoolMaxBytes int64
	// OnFull is OnFullDropOldest or OnFullFailClosed.
	OnFull string
	// AllowInsecureHTTP permits an http:// URL.
	AllowInsecureHTTP bool
}

// check returns an error naming every invalid field of o.
func (o HTTPOptions) check() error {
	var errs []error
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || u.Host == "":
		errs = append(errs, fmt.Errorf("http.url: %q is not an absolute URL", o.URL))
	case u.Scheme != "https" && !(u.Scheme == "http" && o.AllowInsecureHTTP):
		errs = append(errs, fmt.Errorf("http.url: scheme %q (want https, or http with allow_insecure_http)", u.Scheme))
	}
	if o.Format != FormatNDJSON && o.Format != FormatOPA {
		errs = append(errs, fmt.Errorf("http.format: %q (want %q or %q)", o.Format, FormatNDJSON, FormatOPA))
	}
	if o.OnFull != OnFullDropOldest && o.OnFull != OnFullFailClosed {
		errs = append(errs, fmt.Errorf("http.on_full: %q (want %q or %q)", o.OnFull, OnFullDropOldest, OnFullFailClosed))
	}
	if o.BearerToken != "" && (o.Username != "" || o.Password != "") {
		errs = append(errs, errors.New("http.bearer_token: cannot be combined with username/password"))
	}
	if o.BatchEvents < 1 || o.QueueEvents < 1 || o.BatchEvents > o.QueueEvents {
		errs = append(errs, fmt.Errorf("http.batch_events: %d (want 1..queue_events %d)", o.BatchEvents, o.QueueEvents))
	}
	if o.BatchBytes < 1 || o.FlushInterval <= 0 || o.Timeout <= 0 || o.MaxRetryDelay <= 0 || o.SpoolMaxBytes < 1 {
		errs = append(errs, errors.New("http: batch_bytes, flush_interval, timeout, max_retry_delay and spool_max_bytes must be positive"))
	}
	return errors.Join(errs...)
}
