package tests

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/keygen"
)

// TestAPIKeysRevocationAtScale revokes one key of many by editing the
// bundle on disk, and (one file) another by the revocation list, while
// requests with other keys run: each key must be
// refused after the hot reload, every other key keep working, and no
// request fail during the activation. The revocation latency is logged
// (the 1 M-key figures are in the notes; this runs small enough for CI).
func TestAPIKeysRevocationAtScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		layout keygen.Layout
		n      int
	}{
		{keygen.OneFile, 200_000},
		{keygen.Split, 5_000},
	}
	for _, tc := range tests {
		t.Run(string(tc.layout), func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, "api")
			var consumers string
			start := time.Now()
			g := startGateway(t, gatewayConfig{
				Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
  watch: true
  debounce: 50ms
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [api_key]}
`, up.URL),
				Files: allowAllBundle,
				PreStart: func(dir string) {
					consumers = filepath.Join(dir, "bundle", "portcullis", "consumers")
					if err := keygen.Write(consumers, tc.n, tc.layout, nil); err != nil {
						t.Fatal(err)
					}
					start = time.Now()
				},
			})
			t.Logf("%d keys (%s): ready in %s", tc.n, tc.layout, time.Since(start).Round(time.Millisecond))
			get := func(key string) int {
				req, err := http.NewRequest("GET", g.proxy+"/api/x", nil)
				if err != nil {
					t.Error(err)
					return 0
				}
				req.Header.Set("X-API-Key", key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return 0
				}
				readAll(t, resp)
				return resp.StatusCode
			}
			// Two revocations, one after the other: by editing the key
			// file, then (one file) by the revocation list, which leaves
			// the big file alone.
			type step struct {
				how   string
				key   int
				apply func() error
			}
			byEdit, byList := tc.n/2, tc.n/3
			applyEdit, err := keygen.Revocation(consumers, byEdit, tc.n, tc.layout)
			if err != nil {
				t.Fatal(err)
			}
			steps := []step{{"edit of the key data", byEdit, applyEdit}}
			if tc.layout == keygen.OneFile {
				list := filepath.Join(filepath.Dir(consumers), "revoked_api_keys")
				steps = append(steps, step{"revocation list", byList, func() error { return keygen.WriteRevoked(list, byList) }})
			}
			for _, i := range []int{0, byEdit, byList, tc.n - 1} {
				if code := get(keygen.Key(i)); code != 200 {
					t.Fatalf("key %d before the revocation: got %d", i, code)
				}
			}
			spared := func(k int) bool { return k != byEdit && k != byList }
			for _, st := range steps {
				// Load with other keys for the whole activation.
				var stop atomic.Bool
				var sent, failed atomic.Int64
				var wg sync.WaitGroup
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; !stop.Load(); i += 4 {
							k := (i * 7919) % tc.n
							if !spared(k) {
								continue
							}
							sent.Add(1)
							if code := get(keygen.Key(k)); code != 200 {
								failed.Add(1)
								t.Errorf("key %d during the activation: got %d", k, code)
							}
						}
					}()
				}
				t0 := time.Now()
				if err := st.apply(); err != nil {
					t.Fatal(err)
				}
				ok := authnPoll(30*time.Second, func() bool {
					resp := g.do("GET", "/api/x", nil, map[string]string{"X-API-Key": keygen.Key(st.key)})
					if resp.StatusCode == 200 {
						readAll(t, resp)
						return false
					}
					authnWantProblem(t, resp, 401, "api_key_invalid")
					return true
				})
				latency := time.Since(t0)
				time.Sleep(200 * time.Millisecond) // load on the new generation too
				stop.Store(true)
				wg.Wait()
				if !ok {
					t.Fatalf("%s: the revoked key is still accepted 30s after the change", st.how)
				}
				t.Logf("%s: revoked in %s; %d requests with other keys during it, %d failed", st.how, latency.Round(time.Millisecond), sent.Load(), failed.Load())
				if sent.Load() == 0 {
					t.Fatal("no request ran during the activation")
				}
			}
			for _, i := range []int{0, byEdit - 1, byEdit + 1, byList + 1, tc.n - 1} {
				if code := get(keygen.Key(i)); code != 200 {
					t.Fatalf("key %d after the revocation: got %d", i, code)
				}
			}
			resp, err := http.Get(g.admin + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			if got := metricValue(readAll(t, resp), `portcullis_apikey_authentications_total{result="revoked"}`); tc.layout == keygen.OneFile && got < 1 {
				t.Errorf(`result="revoked" = %v, want the list's refusals counted`, got)
			}
		})
	}
}
