package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dayOfLogs writes n events shaped like the gateway's (every request id
// and timestamp differs; a few consumers, methods and paths repeat, as in
// real traffic) as JSON lines.
func dayOfLogs(w io.Writer, n int) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	groups := []string{"read-access", "full-access", "none"}
	methods := []string{"GET", "GET", "GET", "POST", "DELETE"}
	for i := range n {
		g, m := groups[i%len(groups)], methods[i%len(methods)]
		allow := g == "full-access" || g == "read-access" && m == "GET"
		result, outcome := `{"allow":true}`, "allow"
		if !allow {
			result, outcome = `{"allow":false,"reasons":["denied"]}`, "policy_deny"
		}
		fmt.Fprintf(b, `{"labels":{"app":"portcullis-demo","id":"5d1c","version":"dev"},"decision_id":"d-%08d","bundles":{"portcullis":{"revision":"r1"}},"path":"portcullis/authz/decision",`+
			`"input":{"identity":{"authenticated":true,"claims":{},"consumer":"c-%s","groups":["%s"],"issuer":"","key_id":"k-%s","method":"api_key","scopes":[],"subject":"c-%s"},`+
			`"request":{"headers":{"accept":"*/*","user-agent":"load/1.0","x-request-id":"%08d"},"host":"api.example.com","id":"req-%08d","method":"%s","path":"/api/v1/users/%d","port":443,"query":{},"remote_addr":"192.0.2.%d:5%04d","scheme":"https","segments":["api","v1","users","%d"],"wire_method":"%s"},`+
			`"route":{"name":"users-api","operation_id":"","path_params":{},"tags":["users"]},"version":2},`+
			`"result":%s,"requested_by":"192.0.2.%d:5%04d","timestamp":"2026-12-01T10:00:00.%09dZ","metrics":{"timer_rego_query_eval_ns":12000,"timer_server_handler_ns":480000},`+
			`"portcullis":{"allow":%v,"status":200,"reasons":["%s"],"route":"users-api","subject":"c-%s","consumer":"c-%s","authn":"api_key","latency_ns":480000,"upstream_status":200,"cached":false}}`+"\n",
			i, g, g, g, g, i, i, m, i%50, i%250, i%10000, i%50, m, result, i%250, i%10000, i%1000000000, allow, outcome, g, g)
	}
}

// replayThroughput replays a file of n generated events and returns the
// report and the rate, from opening the file to the report.
func replayThroughput(t testing.TB, n int) (*Report, float64) {
	eng, _ := newEngine(t, noReadPolicy)
	path := filepath.Join(t.TempDir(), "day.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	dayOfLogs(f, n)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if f, err = os.Open(path); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Run(context.Background(), Options{Engine: eng, Decision: "data.portcullis.authz.decision", Examples: 5},
		[]Input{{Name: path, R: f}})
	if err != nil {
		t.Fatal(err)
	}
	return rep, float64(n) / time.Since(start).Seconds()
}

// TestReplayThroughput replays 20 000 generated events and reports the
// rate (BenchmarkReplay1M does a million); it asserts only the counts.
func TestReplayThroughput(t *testing.T) {
	const n = 20000
	rep, rate := replayThroughput(t, n)
	if rep.Replayed != n {
		t.Fatalf("replayed %d of %d: %v %v", rep.Replayed, n, rep.Skipped, rep.Malformed)
	}
	// Every read-only GET (group read-access, method GET) changes.
	if want := countReadOnlyGETs(n); rep.AllowToDeny.Total != want || rep.DenyToAllow.Total != 0 {
		t.Fatalf("allow→deny %d, deny→allow %d; want %d and 0", rep.AllowToDeny.Total, rep.DenyToAllow.Total, want)
	}
	t.Logf("replayed %d events at %.0f events/s", n, rate)
}

func countReadOnlyGETs(n int) int {
	c := 0
	for i := range n {
		if i%3 == 0 && i%5 < 3 {
			c++
		}
	}
	return c
}

// BenchmarkReplay1M replays a generated file of a million events (about
// 1.2 GB of JSON lines, in a temporary file) once per iteration and reports events/s.
func BenchmarkReplay1M(b *testing.B) {
	const n = 1000000
	for b.Loop() {
		rep, rate := replayThroughput(b, n)
		if rep.Replayed != n {
			b.Fatalf("replayed %d", rep.Replayed)
		}
		b.ReportMetric(rate, "events/s")
	}
}
