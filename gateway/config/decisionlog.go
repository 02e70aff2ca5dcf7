package config

import "time"

// DecisionLog configures the decision log: one event per request outcome.
type DecisionLog struct {
	// Labels are added to every event's labels (id and version are always there).
	Labels map[string]string `yaml:"labels"`
	// Erase lists JSON pointers removed from every event (e.g. /input/request/body/password).
	Erase []string `yaml:"erase"`
	// MaskRule and DropRule are evaluated with the event as input when the
	// active bundle defines them. Defaults data.system.log.mask and data.system.log.drop.
	MaskRule string `yaml:"mask_rule"`
	DropRule string `yaml:"drop_rule"`
	// Sample is the fraction (0..1) of events kept per outcome kind: allow
	// and deny (deny covers every non-allow outcome). Defaults 1 and 1.
	Sample Sample `yaml:"sample"`
	// Headers lists request headers copied to request_context.http.headers.
	Headers []string `yaml:"headers"`

	Stdout *bool           `yaml:"stdout"`
	File   *DecisionFile   `yaml:"file"`
	HTTP   *DecisionHTTP   `yaml:"http"`
	Syslog *DecisionSyslog `yaml:"syslog"`
}

// Sample gives the kept fraction per outcome.
type Sample struct {
	Allow *float64 `yaml:"allow"`
	Deny  *float64 `yaml:"deny"`
}

// DecisionFile writes events to a file rotated by size and age.
type DecisionFile struct {
	Path       string        `yaml:"path"`
	MaxSize    ByteSize      `yaml:"max_size"` // default 100MiB
	MaxAge     time.Duration `yaml:"max_age"`  // default 7 days (168h)
	MaxBackups int           `yaml:"max_backups"`
	Compress   bool          `yaml:"compress"`
}

// DecisionHTTP ships events to a collector.
type DecisionHTTP struct {
	URL string `yaml:"url"`
	// Format is ndjson (default), opa (gzip JSON arrays, OPA's upload
	// format), splunk_hec (needs splunk) or elasticsearch_bulk (needs elasticsearch).
	Format string `yaml:"format"`
	// Headers are added to every request, e.g. an API key; values are
	// secrets, so "file:/path" and "${ENV}" work as for bearer_token.
	Headers       map[string]Secret `yaml:"headers"`
	Splunk        *DecisionSplunk   `yaml:"splunk"`
	Elasticsearch *DecisionElastic  `yaml:"elasticsearch"`
	// Gzip compresses the other formats' batches too (opa batches always are).
	Gzip          bool          `yaml:"gzip"`
	BatchEvents   int           `yaml:"batch_events"`   // default 500
	BatchBytes    ByteSize      `yaml:"batch_bytes"`    // default 1MiB
	FlushInterval time.Duration `yaml:"flush_interval"` // default 1s
	Timeout       time.Duration `yaml:"timeout"`        // default 10s
	BearerToken   Secret        `yaml:"bearer_token"`
	Username      string        `yaml:"username"`
	Password      Secret        `yaml:"password"`
	CAFile        string        `yaml:"ca_file"`
	QueueEvents   int           `yaml:"queue_events"`    // in-memory queue, default 10000
	MaxRetryDelay time.Duration `yaml:"max_retry_delay"` // default 30s
	// SpoolDir keeps batches on disk while the collector is down. Default: none
	// (then on_full applies to the in-memory queue).
	SpoolDir      string   `yaml:"spool_dir"`
	SpoolMaxBytes ByteSize `yaml:"spool_max_bytes"` // default 1GiB
	// OnFull is drop_oldest (default, counted) or fail_closed (requests get 503).
	OnFull            string `yaml:"on_full"`
	AllowInsecureHTTP bool   `yaml:"allow_insecure_http"`
}

// DecisionSplunk is the Splunk HTTP Event Collector metadata of each event.
type DecisionSplunk struct {
	// Token is the HEC token, sent as Authorization: Splunk <token>.
	Token Secret `yaml:"token"`
	// Index empty: the token's default index.
	Index      string `yaml:"index"`
	Source     string `yaml:"source"`     // default portcullis
	Sourcetype string `yaml:"sourcetype"` // default _json
	// Host empty: the gateway machine's host name.
	Host string `yaml:"host"`
}

// DecisionElastic is the Elasticsearch/OpenSearch _bulk target.
type DecisionElastic struct {
	// Index is the index or data stream per event, with Logstash/Beats date
	// placeholders for the event's UTC time, e.g. portcullis-%{+yyyy.MM.dd}.
	Index string `yaml:"index"`
}

// DecisionSyslog sends RFC 5424 messages (octet-counted framing) over TCP
// or TLS. It is best effort: while the receiver is down, events are
// dropped and counted; use the HTTP sink where every event must arrive.
type DecisionSyslog struct {
	Address string `yaml:"address"`
	TLS     bool   `yaml:"tls"`
	// CAFile is trusted for TLS instead of the system roots.
	CAFile string `yaml:"ca_file"`
}
