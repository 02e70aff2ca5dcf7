package listener

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
)

// outcome is what scanning a whole stream found.
type outcome struct {
	cut    int    // absolute offset the stream was cut at; len(stream) if not
	reason string // refusal reason, "" if none
	broken bool   // body framing broke
}

// scanIn feeds stream to a fresh scanner in pieces of at most step bytes
// (0: all at once).
func scanIn(stream []byte, max, step int) outcome {
	s := newScanner(max)
	off := 0
	for off < len(stream) {
		end := len(stream)
		if step > 0 {
			end = min(off+step, len(stream))
		}
		cut, ref, ok := s.feed(stream[off:end])
		if !ok {
			o := outcome{cut: off + cut, broken: ref == nil}
			if ref != nil {
				o.reason = ref.reason
			}
			return o
		}
		off = end
	}
	return outcome{cut: len(stream)}
}

const get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"

func TestScannerTable(t *testing.T) {
	t.Parallel()
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	clte := func(te string) string {
		return "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n" + te + "\r\n\r\n0\r\n\r\n" + smuggled
	}
	tests := []struct {
		name   string
		stream string
		reason string
		broken bool
		cutAt  string // the stream is cut where this substring starts (default: at 0 when refused)
	}{
		{name: "a plain GET passes", stream: get},
		{name: "pipelined GETs pass", stream: get + get + get},
		{name: "a Content-Length body and a pipelined GET pass", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get},
		{name: "a chunked body with extensions and trailers passes", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" + get},
		{name: "chunked in upper case passes", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n"},
		{name: "CRLF after a POST body is skipped as Go does", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n" + get},
		{name: "identical Content-Length fields pass", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + get},
		{name: "HTTP/1.0 without Host passes", stream: "GET /a HTTP/1.0\r\n\r\n"},
		{name: "obs-text in a value passes", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\t!\r\n\r\n"},
		{name: "a binary body is not parsed as a head", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" + clte("Transfer-Encoding: chunked")[:40] + get},

		{name: "CL then TE is ambiguous", stream: clte("Transfer-Encoding: chunked"), reason: ReasonFramingAmbiguous},
		{name: "TE then CL is ambiguous", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggled, reason: ReasonFramingAmbiguous},
		{name: "lower-case TE with CL is ambiguous", stream: clte("transfer-encoding: chunked"), reason: ReasonFramingAmbiguous},
		{name: "upper-case TE with CL is ambiguous", stream: clte("TRANSFER-ENCODING: CHUNKED"), reason: ReasonFramingAmbiguous},
		{name: "TE without space with CL is ambiguous", stream: clte("Transfer-Encoding:chunked"), reason: ReasonFramingAmbiguous},
		{name: "TE with tabs with CL is ambiguous", stream: clte("Transfer-Encoding:\tchunked\t"), reason: ReasonFramingAmbiguous},
		{name: "TE identity with CL is ambiguous", stream: clte("Transfer-Encoding: identity"), reason: ReasonFramingAmbiguous},
		{name: "an empty TE with CL is ambiguous", stream: clte("Transfer-Encoding:"), reason: ReasonFramingAmbiguous},
		{name: "CL 0 with TE is ambiguous", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", reason: ReasonFramingAmbiguous},
		{name: "CL+TE after a good request cuts at its head", stream: get + clte("Transfer-Encoding: chunked"), reason: ReasonFramingAmbiguous, cutAt: "POST"},
		{name: "CL+TE after a chunked request cuts at its head", stream: "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + clte("Transfer-Encoding: chunked"), reason: ReasonFramingAmbiguous, cutAt: "POST /a"},
		{name: "differing Content-Length fields are ambiguous", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", reason: ReasonFramingAmbiguous},
		{name: "Content-Length 5 and 05 are ambiguous", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nabcde", reason: ReasonFramingAmbiguous},
		{name: "a Content-Length list is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", reason: ReasonFramingInvalid},
		{name: "a negative Content-Length is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", reason: ReasonFramingInvalid},
		{name: "a signed Content-Length is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", reason: ReasonFramingInvalid},
		{name: "a hex Content-Length is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc", reason: ReasonFramingInvalid},
		{name: "a Content-Length with inner space is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", reason: ReasonFramingInvalid},
		{name: "an empty Content-Length is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", reason: ReasonFramingInvalid},
		{name: "a 19-digit Content-Length is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000000\r\n\r\n", reason: ReasonFramingInvalid},
		{name: "TE gzip is unsupported", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", reason: ReasonTransferEncodingUnsupported},
		{name: "TE gzip, chunked is unsupported", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", reason: ReasonTransferEncodingUnsupported},
		{name: "TE chunked, chunked is unsupported", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", reason: ReasonTransferEncodingUnsupported},
		{name: "TE xchunked is unsupported", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", reason: ReasonTransferEncodingUnsupported},
		{name: "TE chunked with a parameter is unsupported", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", reason: ReasonTransferEncodingUnsupported},
		{name: "a repeated TE is invalid", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", reason: ReasonFramingInvalid},
		{name: "TE on HTTP/1.0 is invalid", stream: "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", reason: ReasonFramingInvalid},
		{name: "a folded TE is malformed", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a value folded with a tab is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\t2\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "whitespace before the first field is malformed", stream: "GET /a HTTP/1.1\r\n Host: x\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a space before the colon is malformed", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a tab before the colon is malformed", stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length\t: 4\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a field without colon is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a non-token name is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX\xc3\xa9: 1\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "bare LF line ends are malformed", stream: "GET /a HTTP/1.1\nHost: x\n\n", reason: ReasonHeadMalformed},
		{name: "a bare LF after a field is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\nTransfer-Encoding: chunked\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a bare CR in a value is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\rTransfer-Encoding: chunked\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a bare CR ending the head is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\n\rX", reason: ReasonHeadMalformed},
		{name: "NUL in a value is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "DEL in a value is malformed", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a missing Host on HTTP/1.1 is malformed", stream: "GET /a HTTP/1.1\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a repeated Host is malformed", stream: "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a double space in the request line is malformed", stream: "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a space after the version is malformed", stream: "GET /a HTTP/1.1 \r\nHost: x\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a lower-case version is malformed", stream: "GET /a http/1.1\r\nHost: x\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a non-token method is malformed", stream: "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "HTTP/0.9 is malformed", stream: "GET /a\r\n\r\n", reason: ReasonHeadMalformed},
		{name: "a leading CRLF without a POST is malformed", stream: "\r\n" + get, reason: ReasonHeadMalformed},
		{name: "HTTP/2.0 prior knowledge is unsupported", stream: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", reason: ReasonVersionUnsupported},
		{name: "HTTP/1.2 is unsupported", stream: "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", reason: ReasonVersionUnsupported},
		{name: "a head over the limit is too large", stream: "GET /a HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 1100) + "\r\n\r\n", reason: ReasonHeadersTooLarge},
		{name: "a request line over the limit is too large", stream: "GET /" + strings.Repeat("a", 1100) + " HTTP/1.1\r\nHost: x\r\n\r\n", reason: ReasonHeadersTooLarge},
		{name: "many small fields over the limit are too large", stream: "GET /a HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: 1\r\n", 200) + "\r\n", reason: ReasonHeadersTooLarge},
		{name: "a too-large second head cuts at its start", stream: get + "GET /b HTTP/1.1\r\nX: " + strings.Repeat("b", 1100), reason: ReasonHeadersTooLarge, cutAt: "GET /b"},

		{name: "a bad chunk size breaks the stream", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", broken: true, cutAt: "zz"},
		{name: "a chunk size with a space breaks the stream", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ;a\r\nhello\r\n0\r\n\r\n", broken: true, cutAt: " ;a"},
		{name: "a chunk without CRLF breaks the stream", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", broken: true, cutAt: "X\r\n0"},
		{name: "a bare LF chunk line breaks the stream", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", broken: true, cutAt: "\nabc"},
		{name: "a 16-digit chunk size breaks the stream", stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", broken: true, cutAt: "0\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream := []byte(tc.stream)
			want := outcome{cut: len(stream), reason: tc.reason, broken: tc.broken}
			if tc.reason != "" || tc.broken {
				want.cut = 0
			}
			if tc.cutAt != "" {
				want.cut = strings.Index(tc.stream, tc.cutAt)
				if tc.broken && tc.name == "a 16-digit chunk size breaks the stream" {
					want.cut = strings.Index(tc.stream, "1000000000000000") + 15
				}
			}
			for _, step := range []int{0, 1, 2, 7, 64} {
				if got := scanIn(stream, 1024, step); !same(stream, got, want) {
					t.Fatalf("in pieces of %d: got %+v, want %+v", step, got, want)
				}
			}
			// Split in two at every position.
			for i := 1; i < len(stream); i++ {
				s := newScanner(1024)
				cut, ref, ok := s.feed(stream[:i])
				got := outcome{cut: len(stream)}
				if !ok {
					got = outcome{cut: cut, broken: ref == nil}
				} else if cut, ref, ok = s.feed(stream[i:]); !ok {
					got = outcome{cut: i + cut, broken: ref == nil}
				}
				if ref != nil {
					got.reason = ref.reason
				}
				if !same(stream, got, want) {
					t.Fatalf("split at %d: got %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestScannerRecordsTheRefusedRequest(t *testing.T) {
	t.Parallel()
	s := newScanner(1024)
	_, ref, ok := s.feed([]byte(get + "POST /p?q=1 HTTP/1.1\r\nHost: api.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if ok || ref == nil {
		t.Fatal("not refused")
	}
	if ref.method != "POST" || ref.target != "/p?q=1" || ref.host != "api.example" || ref.status != 400 {
		t.Fatalf("got %+v", ref)
	}
}

// FuzzScanner checks that the scanner's verdict does not depend on how the
// stream is split into reads, and that whatever it lets through Go's own
// parser, where it accepts it, reads as the same sequence of requests, each
// body consumed exactly.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		get, get + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n" + get,
		"GET /a HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		whole := scanIn(stream, 512, 0)
		if split := scanIn(stream, 512, int(step)+1); !same(stream, split, whole) {
			t.Fatalf("whole %+v, in pieces of %d %+v", whole, int(step)+1, split)
		}
		ends := messageEnds(stream[:whole.cut])
		if whole.broken || ends == nil {
			return // the accepted bytes end inside a message
		}
		rd := bytes.NewReader(stream[:whole.cut])
		br := bufio.NewReader(rd)
		lastPOST := false
		for i, end := range ends {
			if lastPOST { // Go's server skips CR/LF after a POST
				peek, _ := br.Peek(4)
				n := 0
				for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
					n++
				}
				_, _ = br.Discard(n)
			}
			// Where Go refuses what the scanner let through (a target
			// that is no URI, say), its server answers 400 and closes:
			// nothing more is read, nothing smuggled.
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			if at := int(rd.Size()) - rd.Len() - br.Buffered(); at != end {
				t.Fatalf("request %d ends at %d for Go, at %d for the scanner", i, at, end)
			}
			lastPOST = req.Method == http.MethodPost
		}
	})
}

// same tells whether got is the outcome want, read in other pieces: a
// refused head that began in an earlier read was partly delivered, but never
// up to its end, so Go cannot read it as a request.
func same(stream []byte, got, want outcome) bool {
	if got.reason != want.reason || got.broken != want.broken {
		return false
	}
	if got.reason == "" || got.cut == want.cut {
		return got.cut == want.cut
	}
	return got.cut > want.cut && !bytes.Contains(stream[want.cut:got.cut], []byte("\r\n\r\n"))
}

// messageEnds lists where each message of an accepted stream ends, or nil
// when the stream ends inside one.
func messageEnds(stream []byte) []int {
	s := newScanner(512)
	ends := []int{}
	for i, c := range stream {
		before := s.st
		s.feed([]byte{c})
		if before != sStart && s.st == sStart {
			ends = append(ends, i+1)
		}
	}
	if s.st != sStart {
		return nil
	}
	return ends
}

// FuzzValueRun checks the eight-at-a-time run of value bytes against the
// byte-by-byte definition.
func FuzzValueRun(f *testing.F) {
	f.Add([]byte("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9\r\n"), uint8(0))
	f.Add([]byte("a\tb\x7fcdefghijk\x80\xff\x1f"), uint8(1))
	f.Add([]byte("0123456\x7f89abcdef"), uint8(0))
	f.Fuzz(func(t *testing.T, p []byte, start uint8) {
		i := min(int(start), len(p))
		want := i
		for want < len(p) && valueByte[p[want]] {
			want++
		}
		if got := valueRun(p, i); got != want {
			t.Fatalf("valueRun(%q, %d) = %d, want %d", p, i, got, want)
		}
	})
}

func TestPlainValue8(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for pos := range 8 {
			w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
			w[pos] = byte(c)
			want := c >= 0x20 && c != 0x7f
			if got := plainValue8(binary.LittleEndian.Uint64(w[:])); got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", c, pos, got, want)
			}
		}
	}
}

// BenchmarkScanner is the scanner's cost of a peer-style GET head: a
// bearer token, a few usual fields, a path and a query.
func BenchmarkScanner(b *testing.B) {
	head := []byte("GET /api/v1/accounts/acct-0042/orders/1234?limit=20&cursor=abc HTTP/1.1\r\n" +
		"Host: gateway.example.test:8080\r\nUser-Agent: peer-bench/1.0 (linux; go1.25)\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip, deflate\r\nX-Request-Id: 0123456789abcdef\r\n" +
		"Authorization: Bearer " + strings.Repeat("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", 12) + "\r\n\r\n")
	s := newScanner(1 << 20)
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := s.feed(head); !ok {
			b.Fatal("refused")
		}
	}
}

// FuzzScannerRunsAreByteWise: fed a stream whole, the scanner takes the
// runs of a target, a name or a value in one go; fed one byte at a time no
// run is longer than a byte, which is the scanner taking each byte alone.
// Both must end in the same state (every count and kept byte) and refuse
// alike, with the same method, target and host, a head cut at its size
// limit included.
func FuzzScannerRunsAreByteWise(f *testing.F) {
	long := "/" + strings.Repeat("abcdefgh", 140) + "?q=1"
	for _, s := range []string{
		get, get + get,
		"GET " + long + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nX-A-Very-Long-Field-Name-Indeed: " + long + "\r\n\r\n",
		"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" + get,
	} {
		f.Add([]byte(s), uint16(512))
		f.Add([]byte(s), uint16(30))
	}
	f.Fuzz(func(t *testing.T, stream []byte, max uint16) {
		whole, byByte := newScanner(int(max)), newScanner(int(max))
		_, wref, wok := whole.feed(stream)
		var bref *refusal
		bok := true
		for i := range stream {
			if _, bref, bok = byByte.feed(stream[i : i+1]); !bok {
				break
			}
		}
		switch {
		case wok != bok || (wref == nil) != (bref == nil):
			t.Fatalf("whole: ok %v refusal %+v; byte by byte: ok %v refusal %+v", wok, wref, bok, bref)
		case wref != nil && *wref != *bref:
			t.Fatalf("whole refuses %+v, byte by byte %+v", *wref, *bref)
		case wok && whole != byByte:
			t.Fatalf("whole ends in %+v, byte by byte in %+v", whole, byByte)
		}
	})
}

// FuzzRuns: valueRun and targetRun end where a byte-wise look ends.
func FuzzRuns(f *testing.F) {
	f.Add([]byte("/api/v1/accounts/acct-0042/orders/1234?limit=20 HTTP/1.1"), uint8(0))
	f.Add([]byte("a\tb\x7fcdefghijklmnopqrstuvwxyz0123\x80\xff\x1f"), uint8(1))
	f.Add([]byte("0123456789abcdef0123456 89abcdef"), uint8(0))
	f.Fuzz(func(t *testing.T, p []byte, start uint8) {
		i := min(int(start), len(p))
		for _, r := range []struct {
			name string
			run  func([]byte, int) int
			set  *[256]bool
		}{{"valueRun", valueRun, &valueByte}, {"targetRun", targetRun, &targetByte}} {
			want := i
			for want < len(p) && r.set[p[want]] {
				want++
			}
			if got := r.run(p, i); got != want {
				t.Fatalf("%s(%q, %d) = %d, want %d", r.name, p, i, got, want)
			}
		}
	})
}

// TestNotPlain8: zero exactly when no byte is below lo or 0x7f, for the
// two lower bounds the runs use.
func TestNotPlain8(t *testing.T) {
	t.Parallel()
	for _, lo := range []uint64{0x20, 0x21} {
		for c := range 256 {
			for pos := range 8 {
				w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
				w[pos] = byte(c)
				want := uint64(c) >= lo && c != 0x7f
				if got := notPlain8(binary.LittleEndian.Uint64(w[:]), lo) == 0; got != want {
					t.Fatalf("lo %#x, byte %#x at %d: %v, want %v", lo, c, pos, got, want)
				}
			}
		}
	}
}
