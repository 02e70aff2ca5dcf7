package tests

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is the Debian package's browser (installed by .ci/run).
const chromiumPath = "/usr/bin/chromium"

// fetchResult is what the page's fetch() reports.
type fetchResult struct {
	OK        bool   `json:"ok"`
	Status    int    `json:"status"`
	Body      string `json:"body"`
	RequestID string `json:"request_id"`
	// Decision is X-Decision-Id, which the route does not expose: a
	// script must not see it.
	Decision string `json:"decision"`
	Error    string `json:"error"`
}

// TestCORSInARealBrowser runs fetch() in headless Chromium from a page on
// one origin against the gateway on another: the browser, not the test,
// decides what a script may do. The page server answers on 127.0.0.1, so
// http://localhost:PORT (allowed) and http://127.0.0.1:PORT (not) are two
// origins of one server.
func TestCORSInARealBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (.ci/run installs the chromium package): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing (apt-get install chromium): %v", chromiumPath, err)
	}
	up := newCORSUpstream(t)
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>cors</title><p>page</p>")
	}))
	t.Cleanup(pages.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(pages.URL, "http://"))
	allowed, other := "http://localhost:"+port, "http://127.0.0.1:"+port

	g := startGateway(t, gatewayConfig{Body: fmt.Sprintf(`
routes:
  - name: public
    match: {path_prefix: /public}
    upstream: %[1]s
    authn: {anonymous: true}
    cors:
      allow_origins: [%[2]q]
      allow_methods: [PUT]
      allow_headers: [X-Custom]
      expose_headers: [X-Request-Id]
  - name: session
    match: {path_prefix: /session}
    upstream: %[1]s
    authn: {anonymous: true}
    cors:
      allow_origins: [%[2]q]
      allow_methods: [PUT]
      allow_headers: [Content-Type]
      allow_credentials: true
policy:
  bundles:
    - {name: main, path: bundle}
`, up.URL, allowed), Files: allowAllBundle})

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// The first call starts the browser, which lives as long as that
	// call's context: no timeout on it, one on each fetch.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	// fetch runs one fetch() from a page of origin and reports the result.
	fetch := func(t *testing.T, origin, path, init string) fetchResult {
		t.Helper()
		js := fmt.Sprintf(`(async () => {
  try {
    const r = await fetch(%q, %s);
    return {ok: true, status: r.status, body: await r.text(), request_id: r.headers.get("X-Request-Id") || "", decision: r.headers.get("X-Decision-Id") || ""};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
})()`, g.proxy+path, init)
		ctx, cancel := context.WithTimeout(browser, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatalf("open %s in chromium: %v", origin, err)
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("run fetch in chromium: %v", err)
		}
		return res
	}
	put := `{method: "PUT", headers: {"X-Custom": "1"}}`

	t.Run("a preflighted request from the allowed origin succeeds and reads the exposed header only", func(t *testing.T) {
		res := fetch(t, allowed, "/public/a", put)
		if !res.OK || res.Status != 200 || res.Body != "up PUT /public/a" || res.RequestID == "" || res.Decision != "" {
			t.Fatalf("fetch = %+v, want the upstream's answer, X-Request-Id and no X-Decision-Id", res)
		}
	})
	t.Run("a preflighted request from another origin is blocked by the browser and never sent", func(t *testing.T) {
		res := fetch(t, other, "/public/b", put)
		if res.OK {
			t.Fatalf("fetch = %+v, want it rejected", res)
		}
		if up.saw("PUT /public/b") || up.saw("OPTIONS /public/b") {
			t.Fatal("the upstream saw the blocked request")
		}
	})
	t.Run("a simple request from another origin is sent but its answer is not readable", func(t *testing.T) {
		if res := fetch(t, other, "/public/c", "{}"); res.OK {
			t.Fatalf("fetch = %+v, want it rejected", res)
		}
	})
	t.Run("credentials mode fails on a route without allow_credentials", func(t *testing.T) {
		if res := fetch(t, allowed, "/public/d", `{credentials: "include"}`); res.OK {
			t.Fatalf("fetch = %+v, want it rejected", res)
		}
	})
	t.Run("credentials mode works on a route with allow_credentials", func(t *testing.T) {
		res := fetch(t, allowed, "/session/e", `{credentials: "include", method: "PUT", headers: {"Content-Type": "application/json"}, body: "{}"}`)
		if !res.OK || res.Status != 200 || res.Body != "up PUT /session/e" {
			t.Fatalf("fetch = %+v, want the upstream's answer", res)
		}
	})
}
