// Command keyscale measures a gateway binary holding many API keys: time
// to ready, resident and peak memory, and the revocation of one key by a
// hot reload under load (time until the key gets 401, request p99 during
// the activation against p99 before it). It prints one JSON object.
//
//	go build -o bin/portcullis ./cmd/portcullis
//	go run ./internal/keygen/cmd/keyscale -bin bin/portcullis -count 1000000 -layout one-file
//
// It works in a temporary directory on 127.0.0.1 ports it picks, and
// needs nothing but the binary; the upstream is an in-process server.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/keygen"
)

type result struct {
	Keys         int     `json:"keys"`
	Layout       string  `json:"layout"`
	DataBytes    int64   `json:"data_bytes"`
	ReadySeconds float64 `json:"ready_seconds"`
	RSSMiB       float64 `json:"rss_mib"`      // after ready
	PeakRSSMiB   float64 `json:"peak_rss_mib"` // VmHWM at the end
	RevokeSec    float64 `json:"revocation_seconds"`
	P99Before    float64 `json:"p99_ms_before"`
	P99During    float64 `json:"p99_ms_during"`
	MaxDuring    float64 `json:"max_ms_during"`
	Requests     int64   `json:"requests_during"`
	Failed       int64   `json:"failed_during"`
	RSSAfterMiB  float64 `json:"rss_mib_after_revocation"`
}

func main() {
	bin := flag.String("bin", "bin/portcullis", "the gateway binary")
	count := flag.Int("count", 100000, "number of keys")
	layout := flag.String("layout", string(keygen.OneFile), "one-file or split")
	workers := flag.Int("workers", 4, "concurrent request loops")
	flag.Parse()
	r, err := run(*bin, *count, keygen.Layout(*layout), *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyscale:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func run(bin string, n int, layout keygen.Layout, workers int) (*result, error) {
	dir, err := os.MkdirTemp("", "keyscale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	upL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = up.Serve(upL) }()
	defer up.Close()
	consumers := filepath.Join(dir, "bundle", "portcullis", "consumers")
	if err := keygen.Write(consumers, n, layout, nil); err != nil {
		return nil, err
	}
	files := map[string]string{
		"bundle/.manifest":  `{"revision": "keyscale", "roots": ["portcullis"]}`,
		"bundle/authz.rego": "package portcullis.authz\n\ndecision := {\"allow\": true}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	proxy, admin := freePort(), freePort()
	cfg := fmt.Sprintf(`listen: {proxy: %q, admin: %q, pprof: true}
log: {level: warn}
decision_log: {stdout: false}
policy:
  bundles: [{name: main, path: bundle}]
  timeout: 2s
  max_bundle_bytes: 1073741824
  watch: true
  debounce: 50ms
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: http://%s
    authn: {methods: [api_key]}
`, proxy, admin, upL.Addr())
	if err := os.WriteFile(filepath.Join(dir, "portcullis.yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	r := &result{Keys: n, Layout: string(layout), DataBytes: dirSize(consumers)}
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "portcullis.yaml"))
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("the gateway exited before ready")
		default:
		}
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(t0) > 5*time.Minute {
			return nil, fmt.Errorf("not ready after 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.ReadySeconds = time.Since(t0).Seconds()
	r.RSSMiB = procKiB(cmd.Process.Pid, "VmRSS") / 1024
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}
	get := func(key string) (int, time.Duration) {
		req, _ := http.NewRequest("GET", "http://"+proxy+"/api/x", nil)
		req.Header.Set("X-API-Key", key)
		s := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, time.Since(s)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(s)
	}
	revoked := n / 2
	load := func(ctx context.Context) (lat []time.Duration, failed int64) {
		var mu sync.Mutex
		var bad atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for i := w; ctx.Err() == nil; i += workers {
					k := (i * 7919) % n
					if k == revoked {
						continue
					}
					code, d := get(keygen.Key(k))
					if code != 200 {
						bad.Add(1)
					}
					mine = append(mine, d)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return lat, bad.Load()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	before, _ := load(ctx)
	cancel()
	r.P99Before = p99(before)

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan struct{})
	var during []time.Duration
	go func() { during, r.Failed = load(ctx); close(done) }()
	apply, err := keygen.Revocation(consumers, revoked, n, layout)
	if err != nil {
		cancel()
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	t1 := time.Now()
	if err := apply(); err != nil {
		cancel()
		return nil, err
	}
	for {
		if code, _ := get(keygen.Key(revoked)); code == 401 {
			break
		}
		if time.Since(t1) > 5*time.Minute {
			cancel()
			return nil, fmt.Errorf("key not revoked after 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.RevokeSec = time.Since(t1).Seconds()
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	r.Requests = int64(len(during))
	r.P99During = p99(during)
	if len(during) > 0 {
		r.MaxDuring = float64(slices.Max(during)) / 1e6
	}
	r.RSSAfterMiB = procKiB(cmd.Process.Pid, "VmRSS") / 1024
	r.PeakRSSMiB = procKiB(cmd.Process.Pid, "VmHWM") / 1024
	return r, nil
}

func p99(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[len(d)*99/100]) / 1e6
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func procKiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return f
		}
	}
	return 0
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
