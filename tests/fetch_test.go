package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fetchServer serves one bundle with an ETag (304 on If-None-Match) and
// records the OPA status updates POSTed to /status.
type fetchServer struct {
	mu       sync.Mutex
	body     []byte
	etag     string
	statuses []map[string]any
}

func (fs *fetchServer) set(body []byte, etag string) {
	fs.mu.Lock()
	fs.body, fs.etag = body, etag
	fs.mu.Unlock()
}

func (fs *fetchServer) lastStatus() map[string]any {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.statuses) == 0 {
		return nil
	}
	return fs.statuses[len(fs.statuses)-1]
}

func (fs *fetchServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if r.Method == http.MethodPost && r.URL.Path == "/status" {
		var v map[string]any
		_ = json.NewDecoder(r.Body).Decode(&v)
		fs.statuses = append(fs.statuses, v)
		return
	}
	if r.Header.Get("If-None-Match") == fs.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", fs.etag)
	_, _ = w.Write(fs.body)
}

// serveAt serves h on addr from now on.
func serveAt(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// fetchStatus is the part of /v1/status about url bundles.
type fetchStatus struct {
	Pending   []string `json:"pending_bundles"`
	LastError string   `json:"last_error"`
	Remote    []struct {
		Name           string `json:"name"`
		ActiveRevision string `json:"active_revision"`
		ETag           string `json:"etag"`
		Code           string `json:"code"`
		Message        string `json:"message"`
		Persisted      bool   `json:"persisted"`
	} `json:"remote_bundles"`
}

// waitAdmin waits for the admin listener and returns /readyz's status.
func (g *gateway) waitAdmin() int {
	g.t.Helper()
	var status int
	policyEventually(g.t, 20*time.Second, "/readyz answers", func() bool {
		resp, err := http.Get(g.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		status = resp.StatusCode
		return true
	})
	return status
}

func fetchBody(addr, extra string, api *upstream) string {
	return fmt.Sprintf(`
policy:
  persistence_directory: state
  services: [{name: bundles, url: "http://%s", headers: {X-Tenant: acme}}]
  bundles:
    - {name: authz, url: authz.tar.gz, service: bundles, polling: {min_delay: 1s, max_delay: 1s}}
%sroutes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, addr, extra, api.URL)
}

func TestFetchNothingPersistedIsClosed(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t) // nothing listens yet: the bundle server is down
	api := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{Body: fetchBody(addr, "  status: {service: bundles}\n", api), NoWait: true})
	if s := g.waitAdmin(); s != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d without a policy, want 503", s)
	}
	resp := g.do("GET", "/api/x", nil, nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "policy_unavailable") {
		t.Fatalf("without a policy: %d %s", resp.StatusCode, body)
	}
	if len(api.requests()) != 0 {
		t.Fatal("a request reached the upstream without a policy")
	}
	var st fetchStatus
	g.status(t, &st)
	if len(st.Pending) != 1 || st.Pending[0] != "authz" {
		t.Errorf("pending %v", st.Pending)
	}

	fs := &fetchServer{body: fleetBundle(t, "v1", 1), etag: `"1"`}
	serveAt(t, addr, fs)
	g.waitReady()
	if s, v := policyHeader(t, g, "/api/x"); s != 200 || v != "v1" {
		t.Fatalf("after the first download: %d X-Policy=%q", s, v)
	}
	policyEventually(t, 10*time.Second, "an OPA status update names the active revision", func() bool {
		b, _ := fs.lastStatus()["bundles"].(map[string]any)["authz"].(map[string]any)
		return b != nil && b["active_revision"] == "v1"
	})
}

func TestFetchBadBundleKeepsGood(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	fs := &fetchServer{body: fleetBundle(t, "v1", 1), etag: `"1"`}
	serveAt(t, addr, fs)
	api := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{Body: fetchBody(addr, "", api)})
	policyWaitDecision(t, g, 10*time.Second, "/api/x", 200, "v1")

	// Parses, but defines no decision rule: the generation build refuses it.
	fs.set(policyTarGz(t, map[string]string{".manifest": policyManifest("v2", "portcullis"), "authz.rego": "package portcullis.authz\n\nother := 1\n"}), `"2"`)
	policyEventually(t, 10*time.Second, "the refusal on /v1/status", func() bool {
		var st fetchStatus
		g.status(t, &st)
		return len(st.Remote) == 1 && st.Remote[0].Code != "" && strings.Contains(st.LastError, "decision rule")
	})
	if s, v := policyHeader(t, g, "/api/x"); s != 200 || v != "v1" {
		t.Fatalf("after a bad download: %d X-Policy=%q, want v1 kept", s, v)
	}
	var st fetchStatus
	g.status(t, &st)
	if r := st.Remote[0]; r.ActiveRevision != "v1" || r.ETag != `"1"` || !r.Persisted {
		t.Errorf("status %+v", r)
	}
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`portcullis_bundle_polls_total{bundle="authz",result="refused"}`, `portcullis_bundle_polls_total{bundle="authz",result="success"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// A fixed bundle is activated at the next poll.
	fs.set(fleetBundle(t, "v3", 3), `"3"`)
	policyWaitDecision(t, g, 10*time.Second, "/api/x", 200, "v3")
}

func TestFetchUnsignedRefused(t *testing.T) {
	t.Parallel()
	pubPEM := newAuthnSigner(t).publicPEM(t) // any RSA key: the bundle is not signed
	addr := freeAddr(t)
	serveAt(t, addr, &fetchServer{body: fleetBundle(t, "v1", 1), etag: `"1"`})
	g := startGateway(t, gatewayConfig{
		Body:   fetchBody(addr, "  signing: {key_file: signing.pem}\n", newUpstream(t, "api")),
		Files:  map[string]string{"signing.pem": string(pubPEM)},
		NoWait: true,
	})
	g.waitAdmin()
	policyEventually(t, 20*time.Second, "the unsigned download refused", func() bool {
		var st fetchStatus
		g.status(t, &st)
		return len(st.Remote) == 1 && strings.Contains(st.Remote[0].Message, ".signatures.json")
	})
	resp, err := http.Get(g.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d with only an unsigned download, want 503", resp.StatusCode)
	}
}
