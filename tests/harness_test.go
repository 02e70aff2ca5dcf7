package tests

import (
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
	"syscall"
	"testing"
	"time"
)

// binary is the portcullis binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portcullis-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "portcullis")
	build := exec.Command("go", "build", "-o", binary, "../cmd/portcullis")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build portcullis:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago and
// that no other call in this process returned. The kernel hands a port
// just closed out again (about one bind to port 0 in five here), so two
// addresses asked for in a row, say a bundle server's that is to stay down
// for a while and the gateway's admin listener, could otherwise be one.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if _, taken := handedOut.LoadOrStore(addr, struct{}{}); !taken {
			return addr
		}
	}
	t.Fatal("no free port that freeAddr has not returned before")
	return ""
}

// handedOut holds every address freeAddr returned.
var handedOut sync.Map

// syncBuffer is a bytes.Buffer safe for the process's writers and the test's readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gateway is a running portcullis process.
type gateway struct {
	t      *testing.T
	dir    string
	proxy  string // http://127.0.0.1:port
	admin  string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

// gatewayConfig holds the parts of a test configuration.
type gatewayConfig struct {
	// Body is the YAML after the listen section; "{{dir}}" is replaced by the
	// test's directory.
	Body string
	// Files are written into the directory before start (name → content).
	Files map[string]string
	// NoWait skips waiting for /readyz.
	NoWait bool
	// Env is added to the process environment.
	Env []string
	// PreStart, when set, runs with the directory after the files are
	// written and before the gateway starts.
	PreStart func(dir string)
	// Listen is added to the listen section (indented YAML lines).
	Listen string
}

// startGateway writes the config into a temporary directory, starts the
// binary on free ports and waits until /readyz answers 200. A port that
// freeAddr found free can be taken by a parallel test before the gateway
// binds it; the start is then retried on other ports, a few times
// (unless PreStart changed the files).
func startGateway(t *testing.T, gc gatewayConfig) *gateway {
	t.Helper()
	dir := t.TempDir()
	for name, content := range gc.Files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "{{dir}}", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 1; ; attempt++ {
		g := startGatewayOnce(t, gc, dir)
		if gc.NoWait {
			return g
		}
		err := g.ready()
		if err == nil {
			return g
		}
		// PreStart may have rewritten the config (into a symlink): a retry
		// could not write new ports into it.
		if attempt < 3 && gc.PreStart == nil && strings.Contains(g.stderr.String(), "address already in use") {
			continue
		}
		t.Fatal(err)
	}
}

// startGatewayOnce starts the binary in dir on two ports free a moment ago.
func startGatewayOnce(t *testing.T, gc gatewayConfig, dir string) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: dir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	proxyAddr, adminAddr := freeAddr(t), freeAddr(t)
	g.proxy, g.admin = "http://"+proxyAddr, "http://"+adminAddr
	listen := gc.Listen
	if !strings.Contains(listen, "drain_delay:") { // SIGTERM in every cleanup: drain briefly
		listen += "  drain_delay: 10ms\n"
	}
	cfg := fmt.Sprintf("listen:\n  proxy: %q\n  admin: %q\n  shutdown_grace: 10s\n", proxyAddr, adminAddr) +
		listen + strings.ReplaceAll(gc.Body, "{{dir}}", dir)
	cfgPath := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if gc.PreStart != nil {
		gc.PreStart(dir)
	}
	g.cmd = exec.Command(binary, "run", "--config", cfgPath)
	g.cmd.Dir = dir
	g.cmd.Env = append(os.Environ(), gc.Env...)
	g.cmd.Stdout, g.cmd.Stderr = g.stdout, g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(g.stop)
	return g
}

func (g *gateway) waitReady() {
	g.t.Helper()
	if err := g.ready(); err != nil {
		g.t.Fatal(err)
	}
}

// ready waits until /readyz answers 200; the error says why it did not.
func (g *gateway) ready() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			return fmt.Errorf("gateway exited before ready:\n%s", g.stderr.String())
		default:
		}
		resp, err := http.Get(g.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("gateway not ready after 30s:\n%s", g.stderr.String())
}

// signal sends sig to the process.
func (g *gateway) signal(sig syscall.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

// stop sends SIGTERM and waits for the process to end.
func (g *gateway) stop() {
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
		g.t.Errorf("gateway did not stop within 20s of SIGTERM")
	}
	if g.t.Failed() {
		g.t.Logf("gateway stderr:\n%s", g.stderr.String())
	}
}

// do sends a request to the proxy listener.
func (g *gateway) do(method, path string, body io.Reader, header map[string]string) *http.Response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.proxy+path, body)
	if err != nil {
		g.t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	return resp
}

// readAll reads and closes a response body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawRequest writes raw bytes to addr and returns what the server answered
// before closing the connection (or within the timeout).
func rawRequest(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// upstream is a recording echo server on 127.0.0.1.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	// delay, when set, is slept before answering.
	delay time.Duration
}

func newUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		u.mu.Lock()
		u.reqs = append(u.reqs, r)
		d := u.delay
		u.mu.Unlock()
		if d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.reqs...)
}

func (u *upstream) setDelay(d time.Duration) {
	u.mu.Lock()
	u.delay = d
	u.mu.Unlock()
}

// allowAllBundle is a policy that allows every request.
var allowAllBundle = map[string]string{
	"bundle/.manifest":  `{"revision": "allow-all", "roots": ["portcullis"]}`,
	"bundle/authz.rego": "package portcullis.authz\n\ndecision := {\"allow\": true}\n",
}

func withFiles(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// status decodes the status object of the admin GET /v1/status into v.
func (g *gateway) status(t *testing.T, v any) {
	t.Helper()
	resp, err := http.Get(g.admin + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := struct {
		Status any `json:"status"`
	}{v}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
}

func TestFreeAddrNeverRepeatsAnAddress(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 300 {
		a := freeAddr(t)
		if seen[a] {
			t.Fatalf("freeAddr returned %s twice", a)
		}
		seen[a] = true
	}
}
