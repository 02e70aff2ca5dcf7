package listener

import (
	"encoding/binary"
	"net/http"
)

// Reason codes of the requests the connection refuses before the handler.
const (
	// ReasonFramingAmbiguous: Content-Length and Transfer-Encoding together,
	// or Content-Length fields that disagree (RFC 9112 §6.1, §6.3).
	ReasonFramingAmbiguous = "framing_ambiguous"
	// ReasonFramingInvalid: a Content-Length that is not a number, a
	// repeated Transfer-Encoding, a Transfer-Encoding on HTTP/1.0.
	ReasonFramingInvalid = "framing_invalid"
	// ReasonTransferEncodingUnsupported: a transfer coding other than chunked.
	ReasonTransferEncodingUnsupported = "transfer_encoding_unsupported"
	// ReasonHeadMalformed: a request line or header field the gateway does
	// not parse exactly one way: bare CR or LF, obs-fold, whitespace before
	// the colon, control characters, a missing or repeated Host.
	ReasonHeadMalformed = "head_malformed"
	// ReasonHeadersTooLarge: a request head over listen.max_header_bytes.
	ReasonHeadersTooLarge = "headers_too_large"
	// ReasonVersionUnsupported: an HTTP version other than 1.0 and 1.1.
	ReasonVersionUnsupported = "http_version_unsupported"
)

// refusal is why a request head was refused, and what of it was read.
type refusal struct {
	status         int
	reason, detail string
	method, target string
	host           string
}

// state is where the scanner is in the message stream.
type state uint8

const (
	sStart state = iota // before a request line
	sMethod
	sTarget
	sVersion
	sReqLF
	sFieldStart
	sName
	sValue
	sValueLF
	sHeadLF
	// states after lastHead are outside a head
	sBodyCL
	sChunkSize
	sChunkExt
	sChunkSizeLF
	sChunkData
	sChunkDataCR
	sChunkDataLF
	sTrailerStart
	sTrailer
	sTrailerLF
	sTrailerEndLF
)

const lastHead = sHeadLF

const (
	maxMethod = 24
	maxTarget = 1024 // kept for the decision log; longer targets are truncated there
	maxName   = 18   // longer than any name the scanner looks for
	maxHost   = 256
	maxTE     = 16
	// maxChunkLine is Go's own limit on a chunk-size line (net/http/internal).
	maxChunkLine = 4096
)

type field uint8

const (
	fOther field = iota
	fContentLength
	fTransferEncoding
	fHost
)

// scanner follows the HTTP/1.x request stream of one connection: every
// request head byte by byte, bodies by their framing (Content-Length bytes,
// chunks) without looking at their bytes, so that it knows where each
// request head starts, including pipelined ones. It refuses a head whose
// framing or syntax could be read two ways. The zero value is not usable;
// set max.
//
// It is no more lenient than Go's server anywhere that decides where a
// message ends: where it is stricter, Go never sees the bytes.
type scanner struct {
	max      int // largest head, in bytes
	st       state
	head     int // bytes of the current head so far
	lastPOST bool
	skip     int // CR/LF bytes skipped before the head (Go's RFC 7230 §3.5 tolerance after a POST)

	method  [maxMethod]byte
	nm      int
	target  [maxTarget]byte
	nt      int // may exceed maxTarget; only maxTarget bytes are kept
	version [8]byte
	nv      int
	http10  bool

	name [maxName]byte
	nn   int // may exceed maxName
	fld  field

	// the current Content-Length field
	clDigits  int
	clValue   int64
	clTrailWS bool
	clBad     bool
	// every Content-Length field of the head
	clFields     int
	cl           int64
	clFirstWidth int
	clInvalid    bool
	clDiffer     bool

	// the current Transfer-Encoding or Host value, OWS-trimmed
	val     [maxHost]byte
	nval    int // bytes kept, up to the last non-blank one counted by valEnd
	valEnd  int
	valLong bool
	// every Transfer-Encoding and Host field of the head
	teFields   int
	teChunked  bool
	hostFields int
	host       [maxHost]byte
	nh         int

	remain   int64 // bytes left of a Content-Length body or of a chunk
	chunkLen int   // bytes of the current chunk-size line
	trailer  int   // bytes of the trailer section
}

func newScanner(max int) scanner { return scanner{max: max} }

// feed scans the next bytes of the stream. It returns ok when every byte
// may be delivered. Otherwise cut is how many bytes of p may be delivered:
// with ref set, the start of the refused head (0 when it began in an
// earlier call); without, the position where the body framing broke (the
// rest of the stream cannot be parsed one way, so the connection must end).
func (s *scanner) feed(p []byte) (cut int, ref *refusal, ok bool) {
	hs := 0 // where the current head starts in p
	for i := 0; i < len(p); i++ {
		c := p[i]
		if s.st <= lastHead && s.st != sStart {
			s.head++
			if s.head > s.max {
				return hs, s.refuse(http.StatusRequestHeaderFieldsTooLarge, ReasonHeadersTooLarge, "the request head exceeds the size limit"), false
			}
		}
		switch s.st {
		case sStart:
			if (c == '\r' || c == '\n') && s.lastPOST && s.skip < 4 {
				s.skip++
				continue
			}
			s.reset()
			hs = i
			s.head = 1
			if !tchar[c] {
				return hs, s.malformed("the request line is malformed"), false
			}
			s.method[0], s.nm, s.st = c, 1, sMethod
		case sMethod:
			switch {
			case tchar[c]:
				if s.nm < maxMethod {
					s.method[s.nm] = c
				}
				s.nm++
			case c == ' ':
				s.st = sTarget
			default:
				return hs, s.malformed("the request line is malformed"), false
			}
		case sTarget:
			switch {
			case targetByte[c]:
				// The run of target bytes from p[i] in one go; p[i] is
				// counted already, the rest of the run here.
				j := s.run(p, i, targetRun(p, i))
				if s.nt < maxTarget {
					copy(s.target[s.nt:], p[i:j])
				}
				s.nt += j - i
				i = j - 1
			case c == ' ' && s.nt > 0:
				s.st = sVersion
			default:
				return hs, s.malformed("the request target is malformed"), false
			}
		case sVersion:
			switch {
			case c == '\r':
				switch string(s.version[:s.nv]) {
				case "HTTP/1.1":
				case "HTTP/1.0":
					s.http10 = true
				default:
					if s.nv == 8 && string(s.version[:5]) == "HTTP/" && digit(s.version[5]) && s.version[6] == '.' && digit(s.version[7]) {
						return hs, s.refuse(http.StatusHTTPVersionNotSupported, ReasonVersionUnsupported, "the gateway speaks HTTP/1.0, HTTP/1.1 and HTTP/2 (over TLS)"), false
					}
					return hs, s.malformed("the HTTP version is malformed"), false
				}
				s.st = sReqLF
			case s.nv < len(s.version) && c > ' ' && c < 0x7f:
				s.version[s.nv] = c
				s.nv++
			default:
				return hs, s.malformed("the HTTP version is malformed"), false
			}
		case sReqLF, sValueLF, sHeadLF:
			if c != '\n' {
				return hs, s.malformed("a bare CR ends a line"), false
			}
			switch s.st {
			case sReqLF:
				s.st = sFieldStart
			case sValueLF:
				s.endField()
				s.st = sFieldStart
			default:
				if ref := s.endHead(); ref != nil {
					return hs, ref, false
				}
			}
		case sFieldStart:
			switch {
			case c == '\r':
				s.st = sHeadLF
			case c == ' ' || c == '\t':
				// RFC 9112 §5.2: obs-fold (or whitespace before the
				// first field) is rejected rather than unfolded, as
				// backends disagree on what it means.
				return hs, s.malformed("a header field is folded (obs-fold) or starts with whitespace"), false
			case c == '\n':
				return hs, s.malformed("a bare LF ends a line"), false
			case tchar[c]:
				s.name[0], s.nn, s.st = lower(c), 1, sName
			default:
				return hs, s.malformed("a header field name is malformed"), false
			}
		case sName:
			switch {
			case tchar[c]:
				// The rest of the name in one go, as the target's.
				j := i + 1
				for j < len(p) && tchar[p[j]] {
					j++
				}
				j = s.run(p, i, j)
				for _, c := range p[i:j] {
					if s.nn < maxName {
						s.name[s.nn] = lower(c)
					}
					s.nn++
				}
				i = j - 1
			case c == ':':
				s.startValue()
				s.st = sValue
			default:
				// "Transfer-Encoding : chunked" and the like: RFC 9112
				// §5.1 requires a 400 for whitespace before the colon.
				return hs, s.malformed("a header field name is malformed"), false
			}
		case sValue:
			if s.fld == fOther {
				// The fast path: most values only need their bytes checked.
				// p[i] is counted already.
				j := valueRun(p, i)
				if j == len(p) {
					s.head += j - i - 1
				} else {
					s.head += j - i
				}
				if s.head > s.max {
					return hs, s.refuse(http.StatusRequestHeaderFieldsTooLarge, ReasonHeadersTooLarge, "the request head exceeds the size limit"), false
				}
				if j == len(p) {
					i = j - 1
					continue
				}
				i, c = j, p[j]
			}
			switch {
			case c == '\r':
				s.st = sValueLF
			case valueByte[c]:
				s.valueByte(c)
			case c == '\n':
				return hs, s.malformed("a bare LF ends a line"), false
			default:
				return hs, s.malformed("a header field value holds a control character"), false
			}
		case sBodyCL:
			i = s.skipBody(p, i, sStart)
		case sChunkSize:
			switch {
			case hexVal(c) >= 0 && s.chunkLen < 15:
				s.remain = s.remain<<4 | int64(hexVal(c))
			case c == ';' && s.chunkLen > 0:
				s.st = sChunkExt
			case c == '\r' && s.chunkLen > 0:
				s.st = sChunkSizeLF
			default:
				return i, nil, false
			}
			s.chunkLen++
		case sChunkExt:
			s.chunkLen++
			switch {
			case c == '\r':
				s.st = sChunkSizeLF
			case !valueByte[c] || s.chunkLen > maxChunkLine:
				return i, nil, false
			}
		case sChunkSizeLF:
			if c != '\n' {
				return i, nil, false
			}
			if s.remain == 0 {
				s.st, s.trailer = sTrailerStart, 0
			} else {
				s.st = sChunkData
			}
		case sChunkData:
			i = s.skipBody(p, i, sChunkDataCR)
		case sChunkDataCR:
			if c != '\r' {
				return i, nil, false
			}
			s.st = sChunkDataLF
		case sChunkDataLF:
			if c != '\n' {
				return i, nil, false
			}
			s.st, s.chunkLen = sChunkSize, 0
		case sTrailerStart, sTrailer:
			s.trailer++
			switch {
			case s.trailer > s.max:
				return i, nil, false
			case c == '\r' && s.st == sTrailerStart:
				s.st = sTrailerEndLF
			case c == '\r':
				s.st = sTrailerLF
			case valueByte[c]:
				s.st = sTrailer
			default:
				return i, nil, false
			}
		case sTrailerLF, sTrailerEndLF:
			if c != '\n' {
				return i, nil, false
			}
			if s.st == sTrailerEndLF {
				s.st = sStart
			} else {
				s.st = sTrailerStart
			}
		}
	}
	return len(p), nil, true
}

// run takes the bytes p[i:j] of the current head, a run of bytes its
// state accepts one by one, whose first byte the caller counted: it
// counts the rest and returns j, or where the head reaches its size limit
// (the next byte is then refused as it would be alone, after the same
// bytes were kept).
func (s *scanner) run(p []byte, i, j int) int {
	j = min(j, i+1+s.max-s.head)
	s.head += j - i - 1
	return j
}

// skipBody passes over the body bytes of p from i, without looking at
// them, and moves to next when they end. It returns the index of the last
// byte passed.
func (s *scanner) skipBody(p []byte, i int, next state) int {
	n := min(int64(len(p)-i), s.remain)
	s.remain -= n
	if s.remain == 0 {
		s.st = next
	}
	return i + int(n) - 1
}

// reset starts a new head. The byte arrays are overwritten, not cleared.
func (s *scanner) reset() {
	s.head, s.skip = 0, 0
	s.nm, s.nt, s.nv, s.http10 = 0, 0, 0, false
	s.clFields, s.cl, s.clInvalid, s.clDiffer = 0, 0, false, false
	s.teFields, s.teChunked, s.hostFields, s.nh = 0, false, 0, 0
}

func (s *scanner) startValue() {
	s.fld = fOther
	if s.nn <= maxName {
		switch string(s.name[:s.nn]) {
		case "content-length":
			s.fld = fContentLength
			s.clDigits, s.clValue, s.clTrailWS, s.clBad = 0, 0, false, false
		case "transfer-encoding":
			s.fld = fTransferEncoding
		case "host":
			s.fld = fHost
		}
	}
	s.nval, s.valEnd, s.valLong = 0, 0, false
}

// valueByte takes one byte of a Content-Length, Transfer-Encoding or Host value.
func (s *scanner) valueByte(c byte) {
	blank := c == ' ' || c == '\t'
	if s.fld == fContentLength {
		switch {
		case blank:
			s.clTrailWS = s.clDigits > 0
		case digit(c) && !s.clTrailWS && s.clDigits < 18:
			s.clValue = s.clValue*10 + int64(c-'0')
			s.clDigits++
		default:
			s.clBad = true
		}
		return
	}
	if blank && s.nval == 0 {
		return // leading OWS
	}
	if s.nval == len(s.val) {
		s.valLong = true
		return
	}
	s.val[s.nval] = c
	s.nval++
	if !blank {
		s.valEnd = s.nval
	}
}

// endField records the field just ended in the head's framing.
func (s *scanner) endField() {
	switch s.fld {
	case fContentLength:
		switch {
		case s.clBad || s.clDigits == 0:
			s.clInvalid = true
		case s.clFields == 0:
			s.cl, s.clFirstWidth = s.clValue, s.clDigits
		case s.clValue != s.cl || s.clDigits != s.clFirstWidth:
			// Go keeps identical repeats and refuses others; "05"
			// and "5" differ for it too.
			s.clDiffer = true
		}
		s.clFields++
	case fTransferEncoding:
		s.teFields++
		s.teChunked = !s.valLong && s.valEnd == len("chunked") && equalFold(s.val[:s.valEnd], "chunked")
	case fHost:
		s.hostFields++
		if !s.valLong {
			s.nh = copy(s.host[:], s.val[:s.valEnd])
		}
	}
}

// endHead decides on a complete head: a refusal, or the framing of its body.
func (s *scanner) endHead() *refusal {
	switch {
	case s.teFields > 0 && s.clFields > 0:
		return s.refuse(http.StatusBadRequest, ReasonFramingAmbiguous, "the request has both Content-Length and Transfer-Encoding")
	case s.clInvalid:
		return s.refuse(http.StatusBadRequest, ReasonFramingInvalid, "the Content-Length is not a decimal number")
	case s.clDiffer:
		return s.refuse(http.StatusBadRequest, ReasonFramingAmbiguous, "the request has Content-Length fields that disagree")
	case s.teFields > 0 && s.http10:
		return s.refuse(http.StatusBadRequest, ReasonFramingInvalid, "an HTTP/1.0 request cannot use Transfer-Encoding")
	case s.teFields > 1:
		return s.refuse(http.StatusBadRequest, ReasonFramingInvalid, "the request repeats Transfer-Encoding")
	case s.teFields == 1 && !s.teChunked:
		return s.refuse(http.StatusNotImplemented, ReasonTransferEncodingUnsupported, "the only transfer coding accepted is chunked")
	case s.hostFields > 1:
		return s.malformed("the request repeats Host")
	case s.hostFields == 0 && !s.http10 && string(s.method[:s.nm]) != http.MethodConnect:
		return s.malformed("the request has no Host")
	}
	s.lastPOST = s.nm == 4 && string(s.method[:4]) == http.MethodPost
	s.skip = 0
	switch {
	case s.teFields == 1:
		s.st, s.remain, s.chunkLen = sChunkSize, 0, 0
	case s.cl > 0:
		s.st, s.remain = sBodyCL, s.cl
	default:
		s.st = sStart
	}
	return nil
}

func (s *scanner) malformed(detail string) *refusal {
	return s.refuse(http.StatusBadRequest, ReasonHeadMalformed, detail)
}

func (s *scanner) refuse(status int, reason, detail string) *refusal {
	return &refusal{
		status: status, reason: reason, detail: detail,
		method: string(s.method[:min(s.nm, maxMethod)]),
		target: string(s.target[:min(s.nt, maxTarget)]),
		host:   string(s.host[:s.nh]),
	}
}

// tchar are the token characters of RFC 9110 §5.6.2.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// valueByte are the bytes of a field value (RFC 9110 §5.5): HTAB, visible
// ASCII, SP and obs-text; no other control character (Go refuses them too).
var valueByte = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != 0x7f
	}
	t['\t'] = true
	return t
}()

// targetByte are the bytes of a request target: visible ASCII and
// obs-text, no SP, no control character.
var targetByte = func() (t [256]bool) {
	for c := 0x21; c < 0x100; c++ {
		t[c] = c != 0x7f
	}
	return t
}()

// valueRun returns the end of the run of value bytes of p that starts at i:
// the index of the first byte that is not one, or len(p). A bearer token
// or a cookie is hundreds of bytes, so it looks at eight at a time.
func valueRun(p []byte, i int) int { return byteRun(p, i, &valueByte, 0x20) }

// targetRun is valueRun for target bytes: a path with its query is tens of
// bytes.
func targetRun(p []byte, i int) int { return byteRun(p, i, &targetByte, 0x21) }

// byteRun returns the end of the run of bytes of p in set from i, eight at
// a time while none is below lo (<= 0x80) or 0x7f: set must hold all those.
func byteRun(p []byte, i int, set *[256]bool, lo uint64) int {
	// Sixteen at a time first: the two words' tests overlap in the CPU.
	for i+16 <= len(p) && notPlain8(binary.LittleEndian.Uint64(p[i:]), lo)|notPlain8(binary.LittleEndian.Uint64(p[i+8:]), lo) == 0 {
		i += 16
	}
	for i < len(p) {
		if i+8 <= len(p) && notPlain8(binary.LittleEndian.Uint64(p[i:]), lo) == 0 {
			i += 8
			continue
		}
		if !set[p[i]] {
			return i
		}
		i++
	}
	return i
}

// plainValue8 reports whether the eight bytes of w are all value bytes
// other than HTAB: none below 0x20, none 0x7f. (A tab makes it false, and
// the caller then looks at the bytes one by one.)
func plainValue8(w uint64) bool { return notPlain8(w, 0x20) == 0 }

// notPlain8 is zero exactly when no byte of w is below lo (lo <= 0x80) or
// 0x7f. Both tests are the classic bit tricks: (x - 0x01…01·n) & ^x &
// 0x80…80 is non-zero exactly when some byte of x is below n (n <= 0x80),
// which with x = w ^ 0x7f…7f and n = 1 finds a 0x7f.
func notPlain8(w, lo uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (w - ones*lo) &^ w & highs
	del := w ^ (ones * 0x7f)
	isDel := (del - ones) &^ del & highs
	return below | isDel
}

func digit(c byte) bool { return '0' <= c && c <= '9' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}
