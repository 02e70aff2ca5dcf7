package server

import (
	"log"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// errorLogBurst bounds the lines net/http's error log writes per second; a
// scanner's or a broken client's flood of handshake errors must not drown
// the log. The lines left out are counted in the next one written.
const errorLogBurst = 10

// httpErrorLog routes what net/http writes to an http.Server's ErrorLog
// through the structured logger: at debug what a client causes (TLS
// handshake errors, bad HTTP/2 prefaces, dropped connections), at error a
// panic or an accept error, at warn the rest.
func httpErrorLog(l zerolog.Logger) *log.Logger {
	return log.New(&errorLogWriter{log: l, now: time.Now}, "", 0)
}

type errorLogWriter struct {
	log zerolog.Logger
	now func() time.Time

	mu         sync.Mutex
	second     time.Time // start of the current one-second window
	written    int       // lines written in it
	suppressed int       // lines left out since the last one written
}

func (w *errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	lvl := errorLogLevel(msg)
	if w.log.GetLevel() > lvl {
		return len(p), nil // not counted against the limit
	}
	w.mu.Lock()
	now := w.now()
	if now.Sub(w.second) >= time.Second {
		w.second, w.written = now, 0
	}
	if w.written >= errorLogBurst {
		w.suppressed++
		w.mu.Unlock()
		return len(p), nil
	}
	w.written++
	suppressed := w.suppressed
	w.suppressed = 0
	w.mu.Unlock()
	ev := w.log.WithLevel(lvl).Str("component", "http_server").Str("error", msg)
	if suppressed > 0 {
		ev = ev.Int("suppressed", suppressed)
	}
	ev.Msg("http server error")
	return len(p), nil
}

// clientCaused are the net/http and http2 messages a client's behaviour
// explains: nothing an operator can fix on the gateway.
var clientCaused = []string{
	"TLS handshake error",
	"error reading preface",
	"http2: server connection error",
	"http2: received GOAWAY",
	"URL query contains semicolon",
	"i/o timeout",
	"connection reset by peer",
	"broken pipe",
}

func errorLogLevel(msg string) zerolog.Level {
	switch {
	case strings.Contains(msg, "panic serving"), strings.Contains(msg, "Accept error"):
		return zerolog.ErrorLevel
	}
	for _, c := range clientCaused {
		if strings.Contains(msg, c) {
			return zerolog.DebugLevel
		}
	}
	return zerolog.WarnLevel
}
