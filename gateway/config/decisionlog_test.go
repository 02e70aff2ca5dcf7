package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecisionLogSIEM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hec.token"), []byte("tok-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(http string) (*Config, error) {
		return Parse(filepath.Join(dir, "portcullis.yaml"), []byte(minimal+"decision_log:\n  http:\n    url: https://siem.example/\n"+http))
	}
	t.Run("splunk: token from a file, metadata defaults, headers", func(t *testing.T) {
		t.Parallel()
		c, err := parse("    format: splunk_hec\n    splunk: {token: file:hec.token, index: audit}\n    headers: {X-Tenant: blue}\n")
		if err != nil {
			t.Fatal(err)
		}
		h := c.DecisionLog.HTTP
		if s := h.Splunk; s.Token.Value() != "tok-from-file" || s.Index != "audit" || s.Source != "portcullis" || s.Sourcetype != "_json" || s.Host != "" {
			t.Errorf("splunk = %+v", s)
		}
		if h.Headers["X-Tenant"].Value() != "blue" {
			t.Errorf("headers = %v", h.Headers)
		}
	})
	t.Run("elasticsearch: the index as written", func(t *testing.T) {
		t.Parallel()
		c, err := parse("    format: elasticsearch_bulk\n    elasticsearch: {index: 'portcullis-%{+yyyy.MM.dd}'}\n")
		if err != nil || c.DecisionLog.HTTP.Elasticsearch.Index != "portcullis-%{+yyyy.MM.dd}" {
			t.Errorf("elasticsearch = %+v, %v", c.DecisionLog.HTTP.Elasticsearch, err)
		}
	})
	for _, tc := range []struct{ name, http, want string }{
		{"splunk_hec needs a token", "    format: splunk_hec\n", "decision_log.http.splunk.token: is required with format splunk_hec"},
		{"elasticsearch_bulk needs an index", "    format: elasticsearch_bulk\n    elasticsearch: {}\n", "decision_log.http.elasticsearch.index: is required"},
		{"an unknown format", "    format: gelf\n", `decision_log.http.format: "gelf"`},
		{"an unknown splunk field", "    format: splunk_hec\n    splunk: {token: x, channel: y}\n", "channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tc.http)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
