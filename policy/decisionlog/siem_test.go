package decisionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSplunkHECBatches(t *testing.T) {
	t.Parallel()
	type hecEvent struct {
		Time       float64        `json:"time"`
		Host       string         `json:"host"`
		Source     string         `json:"source"`
		Sourcetype string         `json:"sourcetype"`
		Index      string         `json:"index"`
		Event      map[string]any `json:"event"`
	}
	var mu sync.Mutex
	var got []hecEvent
	var hdrs []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(r.Body) // HEC reads concatenated objects
		dec.DisallowUnknownFields()
		mu.Lock()
		defer mu.Unlock()
		hdrs = append(hdrs, r.Header.Clone())
		for {
			var ev hecEvent
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil {
				http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
				return
			}
			got = append(got, ev)
		}
		_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	o := &HTTPOptions{
		URL: srv.URL + "/services/collector/event", AllowInsecureHTTP: true, Format: FormatSplunkHEC,
		Headers:     HeaderLines(map[string]string{"x-tenant": "blue"}),
		Splunk:      SplunkOptions{Token: "hec-token", Index: "audit", Source: "portcullis", Sourcetype: "_json", Host: "gw-1"},
		BatchEvents: 10, BatchBytes: 1 << 20, FlushInterval: 5 * time.Millisecond, Timeout: 5 * time.Second,
		QueueEvents: 100, MaxRetryDelay: 10 * time.Millisecond, OnFull: OnFullDropOldest,
	}
	before := time.Now()
	l := newTestLogger(t, Options{}, o)
	ids := logN(l, "hec", 25)
	closeLogger(t, l)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(ids) {
		t.Fatalf("HEC received %d events, want %d", len(got), len(ids))
	}
	for i, ev := range got {
		if ev.Event["decision_id"] != ids[i] || ev.Host != "gw-1" || ev.Source != "portcullis" || ev.Sourcetype != "_json" || ev.Index != "audit" {
			t.Fatalf("event %d = %+v", i, ev)
		}
		if ts := time.UnixMilli(int64(ev.Time * 1000)); ts.Before(before.Truncate(time.Millisecond).Add(-time.Millisecond)) || ts.After(time.Now()) {
			t.Fatalf("event %d time %v is not its timestamp", i, ts)
		}
	}
	for _, h := range hdrs {
		if h.Get("Authorization") != "Splunk hec-token" || h.Get("X-Tenant") != "blue" || h.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", h)
		}
	}
}

// bulkServer is a fake _bulk endpoint that stores documents by _id and
// answers each item with the status answer chooses (0: 201, or 409 for a
// stored id).
type bulkServer struct {
	mu       sync.Mutex
	docs     map[string]map[string]any
	order    []string
	indices  map[string]bool
	requests int
	answer   func(req, item int) int
}

func (s *bulkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_bulk" || r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Authorization") != "ApiKey abc" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.requests
	s.requests++
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	var items []string
	errs := false
	for i := 0; sc.Scan(); i++ {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			http.Error(w, "bad action", http.StatusBadRequest)
			return
		}
		a, ok := action["create"]
		if !sc.Scan() || !ok {
			http.Error(w, "want create + document", http.StatusBadRequest)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil || doc["decision_id"] != a.ID {
			http.Error(w, "bad document", http.StatusBadRequest)
			return
		}
		status := s.answer(req, i)
		if _, dup := s.docs[a.ID]; dup && status == 0 {
			status = http.StatusConflict
		}
		if status == 0 {
			status = http.StatusCreated
			s.docs[a.ID] = doc
			s.order = append(s.order, a.ID)
			s.indices[a.Index] = true
		}
		item := fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"status":%d}}`, a.Index, a.ID, status)
		if status >= 300 {
			errs = true
			item = fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"status":%d,"error":{"type":"x","reason":"y"}}}`, a.Index, a.ID, status)
		}
		items = append(items, item)
	}
	fmt.Fprintf(w, `{"took":3,"errors":%t,"items":[%s]}`, errs, strings.Join(items, ","))
}

func TestElasticBulkRetriesFailedItemsAndCountsRejections(t *testing.T) {
	t.Parallel()
	bs := &bulkServer{docs: map[string]map[string]any{}, indices: map[string]bool{}, answer: func(req, item int) int {
		switch {
		case req == 0 && item == 1:
			return http.StatusTooManyRequests // retried
		case req == 0 && item == 2:
			return http.StatusBadRequest // mapping error: rejected for good
		case req == 1 && item == 0:
			return http.StatusServiceUnavailable // retried again
		}
		return 0
	}}
	srv := httptest.NewServer(bs)
	defer srv.Close()
	o := &HTTPOptions{
		URL: srv.URL + "/_bulk", AllowInsecureHTTP: true, Format: FormatElasticBulk,
		ElasticIndex: "portcullis-%{+yyyy.MM.dd}",
		Headers:      HeaderLines(map[string]string{"Authorization": "ApiKey abc"}),
		// One batch of 5: the first request is the one answered above.
		BatchEvents: 5, BatchBytes: 1 << 20, FlushInterval: time.Hour, Timeout: 5 * time.Second,
		QueueEvents: 100, MaxRetryDelay: 10 * time.Millisecond, OnFull: OnFullDropOldest,
		SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 20,
	}
	l := newTestLogger(t, Options{}, o)
	ids := logN(l, "es", 5)
	waitUntil(t, func() bool {
		bs.mu.Lock()
		defer bs.mu.Unlock()
		return len(bs.docs) == 4
	})
	closeLogger(t, l)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	want := []string{ids[0], ids[3], ids[4], ids[1]} // the retried item arrives last
	checkInOrder(t, bs.order, want)
	today := "portcullis-" + time.Now().UTC().Format("2006.01.02")
	if !bs.indices[today] || len(bs.indices) != 1 {
		t.Errorf("indices %v, want %s", bs.indices, today)
	}
	if r := value(l.m.drops.WithLabelValues(sinkHTTP, dropRejected)); r != 1 {
		t.Errorf("rejected = %v, want 1", r)
	}
	if d := value(l.m.delivered.WithLabelValues(sinkHTTP)); d != 4 {
		t.Errorf("delivered = %v, want 4", d)
	}
	if n := spooledEvents(t, o.SpoolDir); n != 0 {
		t.Errorf("%d events left in the spool", n)
	}
}

func TestIndexPattern(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 7, 21, 0, 0, 0, time.FixedZone("x", -5*3600)) // 02:00 UTC on the 8th
	for _, tc := range []struct{ in, want, err string }{
		{"portcullis-%{+yyyy.MM.dd}", "portcullis-2026.03.08", ""},
		{"logs-%{+yyyy.MM}-%{+dd.HH}", "logs-2026.03-08.02", ""},
		{"decisions", "decisions", ""},
		{"", "", "is required"},
		{"p-%{+yyyy.MM.dd", "", "unclosed"},
		{"p-%{+YYYY.ww}", "", "date pattern"},
		{"p-%{+}", "", "date pattern"},
		{"Portcullis-%{+yyyy}", "", "not a valid index name"},
		{"_p", "", "not a valid index name"},
		{"a b", "", "not a valid index name"},
	} {
		p, err := parseIndexPattern(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.format(at) != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, p.format(at), err, tc.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h    map[string]string
		auth bool
		err  string
	}{
		{map[string]string{"x-api-key": "k", "Authorization": "ApiKey a"}, false, ""},
		{map[string]string{"Authorization": "ApiKey a"}, true, "cannot be combined"},
		{map[string]string{"content-type": "text/plain"}, false, "set by the sink"},
		{map[string]string{"X-A": "a\nX-B: b"}, false, "not a header"},
		{map[string]string{"X A": "a"}, false, "not a header"},
	} {
		h, err := parseHeaders(HeaderLines(tc.h), tc.auth)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.h, err, tc.err)
			}
			continue
		}
		for k, v := range tc.h {
			if err != nil || h.Get(k) != v {
				t.Errorf("%v: %v, %v", tc.h, h, err)
			}
		}
	}
	if HeaderLines(map[string]string{"b": "2", "a": "1"}) != HeaderLines(map[string]string{"a": "1", "b": "2"}) {
		t.Error("HeaderLines is not canonical")
	}
}

// FuzzBulkResult feeds collector answers (untrusted) to the _bulk parser:
// it never panics, and an item answer accounts for every event once.
func FuzzBulkResult(f *testing.F) {
	f.Add([]byte(`{"errors":false,"items":[]}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429}}]}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":400,"error":{"type":"x"}}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{}]}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, events int) {
		events = events%50 + 1
		if events < 1 {
			events += 50
		}
		data := bytes.Repeat([]byte("{\"decision_id\":\"x\"}\n"), events)
		err := bulkResult(body, data)
		var be *bulkError
		if errors.As(err, &be) {
			if be.delivered+be.retried+be.rejected != events || bytes.Count(be.retry, []byte{'\n'}) != be.retried {
				t.Fatalf("%d events, accounted %+v", events, be)
			}
		}
	})
}
