package decisionlog

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// SyslogOptions configures the syslog sink: RFC 5424 messages, framed by
// octet counting (RFC 6587 §3.4.1), over TCP or TLS.
type SyslogOptions struct {
	// Address is host:port of the syslog receiver.
	Address string
	// TLS connects with TLS (RFC 5425), trusting CAFile if set, else the
	// system roots.
	TLS    bool
	CAFile string
	// Timeout bounds connecting and each write.
	Timeout time.Duration
}

// SyslogTimeout is the gateway's syslog Timeout (the config has no field
// for it).
const SyslogTimeout = 5 * time.Second

// Open starts the sink; it connects at the first event.
func (o SyslogOptions) Open(env Env) (Sink, error) {
	w, err := newSyslogWriter(o, time.Now)
	if err != nil {
		return nil, err
	}
	return newStream("syslog", o, w, w, true, env)
}

const (
	syslogPriority   = 16*8 + 6 // facility local0, severity informational
	syslogRedialWait = time.Second
)

// syslogWriter sends each event as one syslog message. It reconnects
// lazily, at most once per syslogRedialWait, so a receiver that is down
// costs a dropped (and counted) event rather than a dial per event. Syslog
// is best effort: use the HTTP sink where every event must arrive.
type syslogWriter struct {
	o        SyslogOptions
	tls      *tls.Config // nil for plain TCP
	header   []byte      // " HOSTNAME APP-NAME PROCID MSGID -" after the timestamp
	now      func() time.Time
	mu       sync.Mutex // the stream goroutine writes; close may race it
	conn     net.Conn
	lastDial time.Time
	buf      bytes.Buffer
}

func newSyslogWriter(o SyslogOptions, now func() time.Time) (*syslogWriter, error) {
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return nil, fmt.Errorf("syslog.address: %w", err)
	}
	if o.Timeout <= 0 {
		return nil, fmt.Errorf("syslog.timeout: %s (want a positive duration)", o.Timeout)
	}
	if o.CAFile != "" && !o.TLS {
		return nil, errors.New("syslog.ca_file: is set but tls is false")
	}
	w := &syslogWriter{o: o, now: now}
	if o.TLS {
		host, _, _ := net.SplitHostPort(o.Address)
		w.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if o.CAFile != "" {
			pool, err := loadCAPool("syslog.ca_file", o.CAFile)
			if err != nil {
				return nil, err
			}
			w.tls.RootCAs = pool
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "-"
	}
	w.header = fmt.Appendf(nil, " %s portcullis %d decision -", host, os.Getpid())
	return w, nil
}

// Write sends one event (a JSON line) as one message.
func (w *syslogWriter) Write(event []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		if err := w.dial(); err != nil {
			return 0, err
		}
	}
	msg := bytes.TrimRight(event, "\n")
	w.buf.Reset()
	w.buf.WriteString("<" + strconv.Itoa(syslogPriority) + ">1 ")
	w.buf.WriteString(w.now().UTC().Format(time.RFC3339Nano))
	w.buf.Write(w.header)
	w.buf.WriteByte(' ')
	w.buf.Write(msg)
	frame := strconv.AppendInt(nil, int64(w.buf.Len()), 10)
	frame = append(frame, ' ')
	frame = append(frame, w.buf.Bytes()...)
	_ = w.conn.SetWriteDeadline(w.now().Add(w.o.Timeout))
	if _, err := w.conn.Write(frame); err != nil {
		_ = w.conn.Close()
		w.conn = nil
		return 0, fmt.Errorf("syslog %s: %w", w.o.Address, err)
	}
	return len(event), nil
}

var errSyslogWait = errors.New("syslog receiver unreachable; waiting before the next dial")

func (w *syslogWriter) dial() error {
	now := w.now()
	if now.Sub(w.lastDial) < syslogRedialWait {
		return errSyslogWait
	}
	w.lastDial = now
	d := &net.Dialer{Timeout: w.o.Timeout}
	var c net.Conn
	var err error
	if w.tls != nil {
		c, err = tls.DialWithDialer(d, "tcp", w.o.Address, w.tls)
	} else {
		c, err = d.Dial("tcp", w.o.Address)
	}
	if err != nil {
		return fmt.Errorf("syslog %s: %w", w.o.Address, err)
	}
	w.conn = c
	return nil
}

// Close closes the connection; the next Write dials again at once (Reopen
// closes a working connection, which is no reason to wait).
func (w *syslogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn, w.lastDial = nil, time.Time{}
	return err
}

// loadCAPool reads PEM certificates to trust, for the sink configured at field.
func loadCAPool(field, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s: no PEM certificate", field, path)
	}
	return pool, nil
}
