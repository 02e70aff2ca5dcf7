// Package decisionlog writes one OPA-style decision event per request outcome, masked, to sinks (stdout, a file, an HTTP collector, syslog), without blocking requests.
//
// # Event shape
//
// Each event is one JSON line with OPA's EventV1 keys, so OPA tooling and
// SIEM parsers for OPA decision logs read it unchanged:
//
//	labels           {"id": <UUID per process>, "version": ..., user labels such as "app"}
//	decision_id      also sent to the client
//	trace_id         if known
//	bundles          {<name>: {"revision": ..., "hash": <hex SHA-256 of the bundle's content>}}
//	path             the decision rule, e.g. "portcullis/authz/decision"
//	input, result    after erasing and masking; omitted when absent
//	erased, masked   the JSON pointers removed and upserted
//	error            {"message": ...} when the decision failed
//	requested_by     the client address
//	request_context  {"http": {"headers": {<name>: [values]}}}, the configured headers only
//	timestamp        RFC 3339 with nanoseconds, UTC
//	metrics          {"timer_rego_query_eval_ns", "timer_server_handler_ns"}
//
// The HTTP outcome is in one more top-level object, which OPA tooling
// ignores: "portcullis": {"allow", "status", "reasons", "route", "subject",
// "consumer", "authn", "latency_ns", "upstream_status", "cached"}, and in
// the extra event of a shadow decision that differed from the enforced one
// (same decision_id), "shadow": {"allow", "outcome", "reasons", "bundles"}.
//
// Events are appended as JSON directly, not through the gateway's log
// library, so no log level silences the audit stream. Strings are escaped
// as in input and result: control characters, U+2028 and U+2029 as \uXXXX
// (except \n, \r, \t), invalid UTF-8 as U+FFFD.
//
// # Erasing, masking, dropping, sampling
//
// Options.Erase pointers are removed first; then the Masker (the policy's
// data.system.log.mask and data.system.log.drop) sees the whole event and
// returns remove/upsert ops or drops the event. As in OPA, pointers must be
// under /input or /result, undefined paths are ignored, array indices are
// allowed, removals are recorded in "erased" and upserts in "masked".
// Unlike OPA, pointers follow RFC 6901 ("~1" is "/", "~0" is "~"). If the
// mask rule fails or returns an invalid op, the event is still logged but
// with input and result erased entirely (fail closed). Sampling runs
// before anything else; deny is every non-allow outcome.
//
// # Sinks
//
// A Logger fans each event line out to its sinks ([Sink]); each transport
// is one sink with its own options type ([StdoutOptions], [FileOptions],
// [HTTPOptions], [SyslogOptions]), validated by its Open, and its own
// metrics series, labelled sink=<type>. Options are comparable with ==: on
// reload, the caller keeps the sinks whose options are unchanged and
// builds the new Logger around them with New; closing the old Logger then
// leaves them running, so a reload does not drop or re-deliver what they
// have queued.
//
// # Delivery
//
// Log never blocks: stdout, file and syslog writes happen on their own
// goroutine behind a bounded queue (full: dropped and counted), and the
// HTTP sink has a bounded queue drained by one sender goroutine. The sender POSTs
// batches (ndjson, optionally gzip, or OPA's gzip JSON array; for SIEMs,
// Splunk HEC event objects or Elasticsearch _bulk create actions keyed by
// decision_id, see siem.go) and retries a failure with exponential backoff
// and full jitter, keeping order. A _bulk answer that refuses some items is
// split: the items answered 429 or 5xx are retried, the others counted as
// rejected. With a spool directory, a failing collector makes the queue
// overflow to disk:
// batch files written atomically (temp file, fsync, rename, directory
// fsync), replayed oldest-first when the collector answers again, and by
// the next HTTP sink on the same directory (after a crash or restart). When
// queue and spool are full, on_full=drop_oldest drops the oldest spooled
// batches (counted in portcullis_decisionlog_drops_total), and
// on_full=fail_closed makes Accepting false so the gateway answers 503.
// Close delivers what is queued within its context and spools the rest.
//
// A crash loses at most the last flush interval of events whatever the
// collector does: refusing or failing (the queue is spilled at every tick
// of the backoff), hanging or slow (once a POST has been outstanding for a
// flush interval, the batch in flight and the queue are spooled at every
// tick). A deleted spool directory is made again at the next write; a
// spool write that fails (unwritable, disk full) leaves the batch in
// memory, is counted in portcullis_decisionlog_spool_errors_total and
// logged once per outage. A write that a full disk cuts short is
// truncated back to the last whole event (the stream sinks: file; where
// the writer cannot truncate, the next write starts a new line), and the
// events it did not write are counted as write_error drops.
//
// The guarantee is at-least-once, per batch: a batch is removed only after
// a 2xx answer, so when the collector stored a batch but the answer was
// lost (timeout, reset, crash before the spool file was removed), the whole
// batch is sent again. Collectors must de-duplicate by decision_id. Events
// are lost only when counted: sampling, the drop rule, a full stdout/file
// queue, a failed stdout/file write, drop_oldest, a batch or _bulk item the
// collector refused, or Close without a spool (or with a failing one) while
// the collector is down. A crash loses what was in memory (see above).
package decisionlog
