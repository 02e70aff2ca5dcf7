package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testpki"
)

// rsyslog is a real rsyslogd (Debian's package, with rsyslog-openssl for
// TLS) in the foreground with its own config: one plain TCP and one TLS
// input on free ports, each writing what it receives to its own file.
type rsyslog struct {
	plain, tls       string // host:port
	plainOut, tlsOut string // files
	caFile           string
}

// rsyslogTemplate writes what rsyslog parsed out of each RFC 5424 message,
// so the test checks the header fields as well as the event.
const rsyslogTemplate = `%pri%|%protocol-version%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n`

func startRsyslog(t *testing.T) *rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("rsyslogd is missing (Debian package rsyslog, plus rsyslog-openssl): %v", err)
		}
		t.Skip("rsyslogd not installed (apt-get install rsyslog rsyslog-openssl)")
	}
	dir := t.TempDir()
	ca := testpki.NewCA(t, "rsyslog test CA")
	leaf := ca.Issue(t, "127.0.0.1", testpki.Options{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	r := &rsyslog{
		plain: freeAddr(t), tls: freeAddr(t),
		plainOut: filepath.Join(dir, "plain.log"), tlsOut: filepath.Join(dir, "tls.log"),
		caFile: testpki.Write(t, dir, "ca.pem", ca.PEM),
	}
	certFile := testpki.Write(t, dir, "cert.pem", leaf.CertPEM)
	keyFile := testpki.Write(t, dir, "key.pem", leaf.KeyPEM)
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k"
  defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)
module(load="imtcp" maxSessions="10")
template(name="fields" type="string" string="%s")
ruleset(name="plain") { action(type="omfile" file=%q template="fields") }
ruleset(name="tls") { action(type="omfile" file=%q template="fields") }
input(type="imtcp" address="127.0.0.1" port=%q ruleset="plain")
input(type="imtcp" address="127.0.0.1" port=%q ruleset="tls"
  streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
`, dir, r.caFile, certFile, keyFile, rsyslogTemplate, r.plainOut, r.tlsOut, port(r.plain), port(r.tls))
	confFile := testpki.Write(t, dir, "rsyslog.conf", []byte(conf))
	check := exec.Command(bin, "-N1", "-f", confFile)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd rejects the test config: %v\n%s", err, out)
	}
	var stderr syncBuffer
	cmd := exec.Command(bin, "-n", "-f", confFile, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", stderr.String())
		}
	})
	for _, addr := range []string{r.plain, r.tls} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				t.Fatalf("rsyslogd exited:\n%s", stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd not listening on %s:\n%s", addr, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return r
}

// syslogMessage is one message as rsyslog parsed it.
type syslogMessage struct {
	pri, version, host, app, procid, msgid, sd string
	event                                      []byte
}

// syslogMessages reads the rsyslog output file written with rsyslogTemplate.
func syslogMessages(t *testing.T, path string) []syslogMessage {
	t.Helper()
	b, _ := os.ReadFile(path)
	var out []syslogMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 8)
		if len(f) != 8 {
			t.Fatalf("rsyslog wrote %q", sc.Text())
		}
		out = append(out, syslogMessage{f[0], f[1], f[2], f[3], f[4], f[5], f[6], []byte(strings.TrimSpace(f[7]))})
	}
	return out
}

func TestSyslogToRsyslogOverTCPAndTLS(t *testing.T) {
	rs := startRsyslog(t)
	for _, tc := range []struct {
		name, sink, out string
	}{
		{"tcp", fmt.Sprintf(`{address: %q}`, rs.plain), rs.plainOut},
		{"tls", fmt.Sprintf(`{address: %q, tls: true, ca_file: %q}`, rs.tls, rs.caFile), rs.tlsOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, "api")
			// The file sink is the reference: rsyslog must hold the same events.
			g := startGateway(t, dlRouteConfig(up, fmt.Sprintf("  syslog: %s\n  file: {path: \"{{dir}}/decisions.log\"}", tc.sink)))
			ids := sendN(t, g, 50, 4, "/api/siem-"+tc.name, http.StatusOK)
			deadline := time.Now().Add(15 * time.Second)
			var msgs []syslogMessage
			for len(msgs) < len(ids) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				msgs = syslogMessages(t, tc.out)
			}
			if len(msgs) != len(ids) {
				raw, _ := os.ReadFile(tc.out)
				t.Fatalf("rsyslog received %d messages for %d decisions: %d bytes, %d headers, tail %q", len(msgs), len(ids), len(raw), bytes.Count(raw, []byte("|decision|")), raw[max(0, len(raw)-300):])
			}
			want := byID(fileEvents(filepath.Join(g.dir, "decisions.log")))
			for _, m := range msgs {
				// local0.info, RFC 5424 (version 1), app portcullis, msgid decision, no SD.
				if m.pri != "134" || m.version != "1" || m.app != "portcullis" || m.msgid != "decision" || m.sd != "-" || m.host == "" || m.procid == "" {
					t.Fatalf("rsyslog parsed the header as %+v", m)
				}
				ev, err := parseEvent(m.event)
				if err != nil {
					t.Fatalf("message is not an event: %v: %.200q", err, m.event)
				}
				ref := want[ev.DecisionID]
				if len(ref) != 1 || !bytes.Equal(ref[0].raw, ev.raw) {
					t.Fatalf("event %s at rsyslog differs from the file sink's:\n%s\n%v", ev.DecisionID, ev.raw, ref)
				}
			}
			got := byID(nil)
			for _, m := range msgs {
				ev, _ := parseEvent(m.event)
				got[ev.DecisionID] = append(got[ev.DecisionID], ev)
			}
			for _, id := range ids {
				if len(got[id]) != 1 {
					t.Fatalf("decision %s arrived %d times", id, len(got[id]))
				}
			}
		})
	}
}

// The binary's HTTP sink in splunk_hec format, its token in a file and a
// header from the environment: what the HEC endpoint decodes is every
// decision.
func TestDecisionLogSplunkHEC(t *testing.T) {
	var mu sync.Mutex
	var got []dlEvent
	var auth, tenant []string
	hec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(r.Body)
		var batch []dlEvent
		for {
			var ev struct {
				Time       float64         `json:"time"`
				Sourcetype string          `json:"sourcetype"`
				Event      json.RawMessage `json:"event"`
			}
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil || ev.Time == 0 || ev.Sourcetype != "_json" {
				http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
				return
			}
			e, err := parseEvent(ev.Event)
			if err != nil {
				http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
				return
			}
			batch = append(batch, e)
		}
		mu.Lock()
		got = append(got, batch...)
		auth, tenant = append(auth, r.Header.Get("Authorization")), append(tenant, r.Header.Get("X-Tenant"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer hec.Close()
	up := newUpstream(t, "api")
	cfg := dlRouteConfig(up, `  http:
    url: `+hec.URL+`/services/collector/event
    flush_interval: 50ms
    format: splunk_hec
    splunk: {token: "file:hec.token"}
    headers: {X-Tenant: "${TENANT}"}`)
	cfg.Files = withFiles(cfg.Files, map[string]string{"hec.token": "s3cr3t-hec\n"})
	cfg.Env = []string{"TENANT=blue"}
	g := startGateway(t, cfg)
	ids := sendN(t, g, 30, 2, "/api/hec", http.StatusOK)
	evs := waitEvents(t, "HEC", ids, 10*time.Second, func() []dlEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]dlEvent(nil), got...)
	})
	assertSameCopies(t, evs)
	mu.Lock()
	defer mu.Unlock()
	for i := range auth {
		if auth[i] != "Splunk s3cr3t-hec" || tenant[i] != "blue" {
			t.Fatalf("request %d: Authorization %q, X-Tenant %q", i, auth[i], tenant[i])
		}
	}
	if strings.Contains(g.stderr.String(), "s3cr3t-hec") {
		t.Fatal("the HEC token is in the gateway's log")
	}
}
