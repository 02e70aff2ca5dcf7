package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestErrorLogLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, msg string
		want      zerolog.Level
	}{
		{"a TLS handshake error is the client's, at debug", "http: TLS handshake error from 127.0.0.1:5555: EOF", zerolog.DebugLevel},
		{"a bad HTTP/2 preface is the client's, at debug", "http2: server: error reading preface from client 127.0.0.1:1: bogus greeting", zerolog.DebugLevel},
		{"a panic is an error", "http: panic serving 127.0.0.1:1: boom", zerolog.ErrorLevel},
		{"an accept error is an error", "http: Accept error: too many open files; retrying in 5ms", zerolog.ErrorLevel},
		{"anything else is a warning", "http: superfluous response.WriteHeader call", zerolog.WarnLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := errorLogLevel(tc.msg); got != tc.want {
				t.Errorf("errorLogLevel(%q) = %s, want %s", tc.msg, got, tc.want)
			}
		})
	}
}

func TestErrorLogRateLimit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	w := &errorLogWriter{log: zerolog.New(&buf).Level(zerolog.DebugLevel), now: func() time.Time { return now }}
	l := httpErrorLog(zerolog.Nop()) // the constructor's wiring
	l.SetOutput(w)
	for range 25 {
		l.Print("http: TLS handshake error from 127.0.0.1:5555: EOF\n")
	}
	if n := strings.Count(buf.String(), "\n"); n != errorLogBurst {
		t.Fatalf("%d lines in one second, want %d:\n%s", n, errorLogBurst, buf.String())
	}
	now = now.Add(time.Second)
	buf.Reset()
	l.Print("http: panic serving 127.0.0.1:1: boom\n")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if line["level"] != "error" || line["suppressed"] != float64(15) || line["error"] != "http: panic serving 127.0.0.1:1: boom" {
		t.Errorf("next line: %v, want level error, suppressed 15, the message in error", line)
	}
}

func TestErrorLogBelowLevelIsNotCounted(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := &errorLogWriter{log: zerolog.New(&buf).Level(zerolog.InfoLevel), now: time.Now}
	for range 50 {
		_, _ = w.Write([]byte("http: TLS handshake error from 127.0.0.1:5555: EOF\n"))
	}
	_, _ = w.Write([]byte("http: superfluous response.WriteHeader call\n"))
	if out := buf.String(); strings.Count(out, "\n") != 1 || strings.Contains(out, "suppressed") || !strings.Contains(out, `"level":"warn"`) {
		t.Errorf("debug lines at info level: got %q, want only the warning, nothing suppressed", out)
	}
}
