package decisionlog

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syslogReceiver accepts connections and decodes octet-counted frames.
type syslogReceiver struct {
	l    net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSyslogReceiver(t *testing.T, l net.Listener) *syslogReceiver {
	r := &syslogReceiver{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.read(c)
		}
	}()
	return r
}

func (r *syslogReceiver) read(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		n, err := br.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, string(msg))
		r.mu.Unlock()
	}
}

func (r *syslogReceiver) wait(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	waitUntil(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		got = append([]string(nil), r.msgs...)
		return len(got) >= n
	})
	return got
}

func TestSyslogSink(t *testing.T) {
	t.Parallel()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS() // only for its certificate
	defer ts.Close()
	tlsL, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: ts.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		l    net.Listener
		o    SyslogOptions
	}{
		{"RFC 5424 over TCP", tcp, SyslogOptions{Address: tcp.Addr().String(), Timeout: SyslogTimeout}},
		{"RFC 5424 over TLS with a custom CA", tlsL, SyslogOptions{Address: tlsL.Addr().String(), TLS: true, CAFile: ca, Timeout: SyslogTimeout}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSyslogReceiver(t, tc.l)
			l := newTestLogger(t, Options{}, tc.o)
			want := logN(l, "sys", 3)
			got := r.wait(t, 3)
			closeLogger(t, l)
			for i, m := range got {
				if !strings.HasPrefix(m, "<134>1 ") || !strings.Contains(m, " portcullis ") || !strings.Contains(m, " decision - {") {
					t.Fatalf("message %d is not RFC 5424: %q", i, m)
				}
				var ev map[string]any
				if err := json.Unmarshal([]byte(m[strings.Index(m, "{"):]), &ev); err != nil || ev["decision_id"] != want[i] {
					t.Fatalf("message %d carries %v (%v), want decision %s", i, ev["decision_id"], err, want[i])
				}
			}
		})
	}
}

func TestSyslogReceiverDownDropsAndCountsWithoutBlocking(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	lg := newTestLogger(t, Options{}, SyslogOptions{Address: addr, Timeout: SyslogTimeout})
	logN(lg, "down", 5)
	closeLogger(t, lg)
	if d := value(lg.m.drops.WithLabelValues("syslog", dropWrite)); d != 5 {
		t.Fatalf("write drops = %v, want 5", d)
	}
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
