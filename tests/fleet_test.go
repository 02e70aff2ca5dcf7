package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fleetBundle is the policy version, padded by pad bytes of comment.
func fleetBundle(t *testing.T, version string, pad int) []byte {
	return policyTarGz(t, map[string]string{".manifest": policyManifest(version, "portcullis"),
		"authz.rego": policyVersion(version) + "\n# " + strings.Repeat("x", pad) + "\n"})
}

// fleetPublish renames the bundle into place, as a deployment would: nginx
// serves the old file or the new one, never half of one. nginx's ETag is
// the file's mtime in seconds and its size, and two versions of the same
// compressed size (padding compresses to almost nothing) written within a
// second would share it: the replicas' conditional polls would keep
// getting 304 for the old version. So a new version's mtime is at least a
// second after the one it replaces.
func fleetPublish(t *testing.T, root string, raw []byte) {
	t.Helper()
	tmp, dst := filepath.Join(root, ".authz.tar.gz.tmp"), filepath.Join(root, "authz.tar.gz")
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if old, err := os.Stat(dst); err == nil {
		if mt := old.ModTime().Truncate(time.Second).Add(time.Second); time.Now().Before(mt) {
			if err := os.Chtimes(tmp, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// fleetProgram finds a Debian package's program; it skips outside CI and
// fails under CI=true, where .ci/run installs it.
func fleetProgram(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (.ci/run installs it)", name)
	}
	t.Skipf("%s is not installed: the fleet test needs the Debian package", name)
	return ""
}

// fleetDaemon is a process the test started, stopped by its own id.
type fleetDaemon struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	signal func(syscall.Signal)
}

func fleetStart(t *testing.T, name string, args ...string) *fleetDaemon {
	t.Helper()
	d := &fleetDaemon{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	d.signal = func(s syscall.Signal) { _ = d.cmd.Process.Signal(s) }
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *fleetDaemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	d.signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("%s did not stop within 15s of SIGTERM:\n%s", d.cmd.Path, d.out.String())
	}
}

func (d *fleetDaemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

// fleetReplica is one gateway with fixed ports and its own persistence
// directory, so that it can be restarted as the same replica.
type fleetReplica struct {
	cfg, proxy, admin string
	d                 *fleetDaemon
}

func (r *fleetReplica) start(t *testing.T) {
	t.Helper()
	r.d = fleetStart(t, binary, "run", "--config", r.cfg)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + r.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica %s not ready:\n%s", r.cfg, r.d.out.String())
}

func fleetWaitHealthy(t *testing.T, lb string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(lb + "/api/x"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("haproxy has no healthy replica")
}

// TestFleet runs three replicas behind HAProxy with their bundle from
// nginx: a published bundle reaches every replica, a killed replica and a
// rolling restart cost (almost) no idempotent request, and a replica
// restarted while nginx is down serves its persisted bundle.
func TestFleet(t *testing.T) {
	nginx, haproxy := fleetProgram(t, "nginx"), fleetProgram(t, "haproxy")
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	for _, d := range []string{www, filepath.Join(dir, "nginx-tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fleetPublish(t, www, fleetBundle(t, "v1", 1))
	nginxAddr := freeAddr(t)
	nginxConf := filepath.Join(dir, "nginx.conf")
	tmp := filepath.Join(dir, "nginx-tmp")
	writeFile(t, nginxConf, fmt.Sprintf(`daemon off;
user root root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[2]s; proxy_temp_path %[2]s; fastcgi_temp_path %[2]s; uwsgi_temp_path %[2]s; scgi_temp_path %[2]s;
  server { listen %[3]s; root %[4]s; etag on; }
}
`, dir, tmp, nginxAddr, www))
	startNginx := func() *fleetDaemon {
		d := fleetStart(t, nginx, "-e", "stderr", "-p", dir, "-c", nginxConf)
		policyEventually(t, 10*time.Second, "nginx serves the bundle", func() bool {
			resp, err := http.Get("http://" + nginxAddr + "/authz.tar.gz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200 && resp.Header.Get("ETag") != ""
		})
		return d
	}
	ngx := startNginx()

	replicas := make([]*fleetReplica, 3)
	var servers strings.Builder
	for i := range replicas {
		up := newUpstream(t, fmt.Sprintf("r%d", i))
		r := &fleetReplica{cfg: filepath.Join(dir, fmt.Sprintf("r%d.yaml", i)), proxy: freeAddr(t), admin: freeAddr(t)}
		writeFile(t, r.cfg, fmt.Sprintf(`listen:
  proxy: %q
  admin: %q
  drain_delay: 1s
  shutdown_grace: 5s
log: {level: warn}
decision_log: {stdout: false}
policy:
  persistence_directory: %s
  bundles:
    - name: authz
      url: http://%s/authz.tar.gz
      polling: {min_delay: 1s, max_delay: 2s}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, r.proxy, r.admin, filepath.Join(dir, fmt.Sprintf("state%d", i)), nginxAddr, up.URL))
		r.start(t)
		replicas[i] = r
		fmt.Fprintf(&servers, "  server r%d %s check port %s\n", i, r.proxy, strings.Split(r.admin, ":")[1])
	}
	lbAddr := freeAddr(t)
	lbConf := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, lbConf, fmt.Sprintf(`global
  maxconn 512
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 5s
  retries 3
  option redispatch
  retry-on conn-failure empty-response response-timeout
frontend fe
  bind %s
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /readyz
  default-server inter 200ms fall 1 rise 2
%s`, lbAddr, servers.String()))
	fleetStart(t, haproxy, "-db", "-f", lbConf)
	lb := "http://" + lbAddr
	fleetWaitHealthy(t, lb)

	// Load: 8 clients GET through haproxy, recording per replica the
	// newest version it served and when that answer was received. A
	// request sent after that which gets an older version went back a
	// generation (an answer received later but sent earlier did not).
	var (
		mu       sync.Mutex
		failed   atomic.Int64
		total    atomic.Int64
		failures []string
		newest   = map[string]fleetSeen{}
		regress  []string
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				total.Add(1)
				sent := time.Now()
				resp, err := client.Get(lb + "/api/x")
				if err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				replica, v := strings.Fields(string(body) + " ?")[0], resp.Header.Get("X-Policy")
				mu.Lock()
				if resp.StatusCode != 200 {
					failed.Add(1)
					failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, body))
				} else if n := newest[replica]; v < n.version && sent.After(n.at) {
					regress = append(regress, fmt.Sprintf("%s served %s after %s", replica, v, n.version))
				} else if v > n.version {
					newest[replica] = fleetSeen{v, time.Now()}
				}
				mu.Unlock()
			}
		}()
	}
	phase := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%s: %d requests so far, %d failed %v", name, total.Load(), failed.Load(), failures)
		failures = nil
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// 1. Publish v2: every replica serves it within max_delay + 1s.
	time.Sleep(300 * time.Millisecond)
	published := time.Now()
	fleetPublish(t, www, fleetBundle(t, "v2", 100))
	for i, r := range replicas {
		for {
			resp, err := http.Get("http://" + r.proxy + "/api/x")
			if err == nil {
				resp.Body.Close()
				if resp.Header.Get("X-Policy") == "v2" {
					break
				}
			}
			if time.Since(published) > 3*time.Second {
				t.Errorf("replica %d does not serve v2 within 3s of publishing", i)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if t.Failed() {
		resp, err := http.Get("http://" + replicas[0].admin + "/v1/status")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status: %s\nlog: %s", b, replicas[0].d.out.String())
		}
	}
	t.Logf("v2 on every replica %s after publishing", time.Since(published).Round(10*time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	if len(regress) > 0 {
		t.Errorf("a replica went back to an older generation: %v", regress)
	}
	mu.Unlock()
	phase("publish")
	failedBefore := failed.Load()

	// 2. SIGKILL one replica: haproxy retries idempotent requests.
	replicas[1].d.kill()
	time.Sleep(time.Second)
	killFailed := failed.Load() - failedBefore
	phase("SIGKILL")
	replicas[1].start(t)
	time.Sleep(600 * time.Millisecond) // rise 2 × inter

	// 3. Roll all three with SIGTERM: 0 failed requests.
	before := failed.Load()
	for _, r := range replicas {
		r.d.stop(t)
		r.start(t)
		time.Sleep(600 * time.Millisecond)
	}
	rollFailed := failed.Load() - before
	phase("rolling restart")

	// 4. nginx down, restart a replica: it serves the persisted v2.
	ngx.stop(t)
	replicas[2].d.stop(t)
	replicas[2].start(t)
	resp, err := http.Get("http://" + replicas[2].proxy + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("X-Policy"); resp.StatusCode != 200 || v != "v2" {
		t.Errorf("replica restarted without nginx: %d X-Policy=%q, want 200 v2", resp.StatusCode, v)
	}
	t.Logf("figures: %d requests, SIGKILL failed %d, rolling restart failed %d", total.Load(), killFailed, rollFailed)
	if killFailed > 0 {
		t.Logf("SIGKILL: %d requests failed that haproxy could not retry (target 0)", killFailed)
	}
	if rollFailed != 0 {
		t.Errorf("rolling restart: %d failed requests, want 0", rollFailed)
	}
	mu.Lock()
	if len(regress) > 0 { // a restarted replica starts from its persisted v2
		t.Errorf("a replica went back to an older generation: %v", regress)
	}
	mu.Unlock()
}

// fleetSeen is the newest version a replica served and when it was received.
type fleetSeen struct {
	version string
	at      time.Time
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
