package apikey

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"slices"
	"unicode/utf8"
)

// scanFile is the fast path of parseFile: a strict JSON scanner for the
// consumer data alone, which reads the bytes straight into entries (a
// 145 MB file of 1 M consumers is not worth a generic tree, nor
// encoding/json's reflection). A key that prev holds with the same values
// only has its hash recorded: revoking one key of a big file allocates
// for none of the others. It returns false at anything it does not take,
// valid or not (escapes in a hash, unknown key fields, a null id, ...);
// the caller then decodes the file generically, so scan never decides an
// error and need not explain one.
func scanFile(prev *Index, rel string, raw []byte, rec *fileRec) ([]entry, bool) {
	// Sized up front: growing a slice of 1 M hashes copies it ~20 times.
	n := bytes.Count(raw, []byte(`"hash"`))
	s := &scanner{b: raw, ok: true, prev: prev, rec: rec, groups: map[string][]string{}}
	if old := prev.files[rel]; old != nil {
		s.old = old.fps
	}
	rec.hashes = make([][32]byte, 0, n)
	rec.fps = make([]uint64, 0, n)
	if rel != "" {
		s.consumer([]byte(rel))
	} else {
		rec.names = make([]uint64, 0, n)
		for more := s.open('{', '}'); more; more = s.next('}') {
			name := s.field()
			rec.names = append(rec.names, nameSum(name))
			s.consumer(name)
		}
	}
	s.ws()
	return s.es, s.ok && s.i == len(s.b)
}

// scanner reads JSON from b at i; after the first problem ok is false and
// every method returns at once.
type scanner struct {
	b  []byte
	i  int
	ok bool
	// prev, es and rec: see scanFile. groups interns the groups lists by
	// their JSON text (most consumers share a few lists); keys is reused
	// from one consumer to the next.
	prev   *Index
	es     []entry
	rec    *fileRec
	groups map[string][]string
	keys   []keyScan
	// old are the fingerprints of the file prev was made from, in file
	// order, and at the position of the next key expected unchanged.
	old []uint64
	at  int
}

// fingerprint sums what a key authenticates with (see entry.same), so
// that a key unchanged since the last scan is recognised by comparing 8
// bytes in file order rather than by a lookup in the index (at 1 M keys,
// one cache miss each: most of a big file's re-scan). The seed is the
// process's own, so bundle data cannot be crafted to collide.
func fingerprint(e *entry, id, name []byte, groups []string) uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	var b [8]byte
	field := func(p []byte) {
		binary.LittleEndian.PutUint64(b[:], uint64(len(p)))
		h.Write(b[:])
		h.Write(p)
	}
	field(e.hash[:])
	binary.LittleEndian.PutUint64(b[:], uint64(e.nbf))
	field(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(e.exp))
	field(b[:])
	field(id)
	field(name)
	binary.LittleEndian.PutUint64(b[:], uint64(len(groups)))
	h.Write(b[:])
	for _, g := range groups {
		binary.LittleEndian.PutUint64(b[:], uint64(len(g)))
		h.Write(b[:])
		h.WriteString(g)
	}
	return h.Sum64()
}

var fingerprintSeed = maphash.MakeSeed()

// fingerprintWindow is how far ahead of the expected position an
// unchanged key is looked for: removed keys shift the rest back.
const fingerprintWindow = 8

// unchanged reports whether the key with fingerprint fp is in the old
// file near the expected position, and moves past it.
func (s *scanner) unchanged(fp uint64) bool {
	for d := 0; d < fingerprintWindow && s.at+d < len(s.old); d++ {
		if s.old[s.at+d] == fp {
			s.at += d + 1
			return true
		}
	}
	return false
}

// keyScan is one key object as read, in the file's bytes; times are nil,
// a string or a json.Number, as parseTime takes them.
type keyScan struct {
	id, hash []byte
	nbf, exp any
}

func (s *scanner) consumer(name []byte) {
	if len(name) == 0 {
		s.fail()
		return
	}
	var groups []string
	s.keys = s.keys[:0]
	var seenGroups, seenKeys bool
	for more := s.open('{', '}'); more; more = s.next('}') {
		switch string(s.field()) {
		case "groups":
			if seenGroups {
				s.fail() // twice: the generic decode keeps the last one
			}
			seenGroups = true
			groups = s.groupList()
		case "keys":
			if seenKeys {
				s.fail()
			}
			seenKeys = true
			if s.null() {
				continue
			}
			for more := s.open('[', ']'); more; more = s.next(']') {
				s.keys = append(s.keys, s.key())
			}
		default:
			s.skip() // NewIndex ignores other consumer fields
		}
	}
	if !s.ok {
		return
	}
	var cons *consumer // made for the first key prev does not hold alike
	for i, k := range s.keys {
		// The id is checked here and copied below only when needed.
		e, errs := newEntry(nil, "-", k.hash, k.nbf, k.exp)
		if len(errs) > 0 || len(k.id) == 0 {
			s.fail()
			return
		}
		for _, o := range s.keys[:i] {
			if bytes.Equal(o.id, k.id) {
				s.fail()
				return
			}
		}
		s.rec.hashes = append(s.rec.hashes, e.hash)
		fp := fingerprint(&e, k.id, name, groups)
		s.rec.fps = append(s.rec.fps, fp)
		if s.unchanged(fp) {
			continue // prev holds it from this file, alike
		}
		if cur, ok := s.prev.lookup(&e.hash); ok && cur.nbf == e.nbf && cur.exp == e.exp &&
			cur.id == string(k.id) && cur.cons.name == string(name) && slices.Equal(cur.cons.groups, groups) {
			continue
		}
		if cons == nil {
			cons = &consumer{name: string(name), groups: groups}
		}
		e.id, e.cons = string(k.id), cons
		s.es = append(s.es, e)
	}
}

// groupList reads a consumer's groups: null, or an array of non-empty
// strings, interned.
func (s *scanner) groupList() []string {
	if s.null() {
		return nil
	}
	s.ws()
	start := s.i
	// Most consumers share a few lists: a text seen before (and then
	// read strictly) is its interned list, with nothing allocated.
	if s.skip(); !s.ok {
		return nil
	}
	if g, ok := s.groups[string(s.b[start:s.i])]; ok {
		return g
	}
	s.i = start
	var gs []string
	for more := s.open('[', ']'); more; more = s.next(']') {
		if g := s.raw(); len(g) > 0 {
			gs = append(gs, string(g))
		} else {
			s.fail()
		}
	}
	if !s.ok {
		return nil
	}
	if gs == nil {
		gs = []string{}
	}
	s.groups[string(s.b[start:s.i])] = gs
	return gs
}

func (s *scanner) key() keyScan {
	var k keyScan
	var seen [4]bool
	for more := s.open('{', '}'); more; more = s.next('}') {
		i := slices.Index(keyFields, string(s.field()))
		if i < 0 || seen[i] {
			s.fail()
			break
		}
		seen[i] = true
		switch i {
		case 0:
			k.id = s.raw()
		case 1:
			k.hash = s.raw()
		case 2:
			k.nbf = s.time()
		case 3:
			k.exp = s.time()
		}
	}
	if !seen[0] || !seen[1] {
		s.fail()
	}
	return k
}

func (s *scanner) time() any {
	switch s.peek() {
	case 'n':
		s.null()
		return nil
	case '"':
		return s.str()
	}
	return s.number()
}

func (s *scanner) fail() { s.ok = false }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// expect consumes c, or fails.
func (s *scanner) expect(c byte) {
	if s.ok && s.peek() == c {
		s.i++
		return
	}
	s.fail()
}

// open consumes the opening c of an object or array and reports whether
// an item follows (false also after a problem). Loops over the items
// call next after each; an object's items start with field.
func (s *scanner) open(c, closing byte) bool {
	s.expect(c)
	if s.ok && s.peek() == closing {
		s.i++
		return false
	}
	return s.ok
}

// next consumes the comma after an item and reports whether another
// follows, or consumes closing.
func (s *scanner) next(closing byte) bool {
	if !s.ok {
		return false
	}
	switch s.peek() {
	case ',':
		s.i++
		return true
	case closing:
		s.i++
		return false
	}
	s.fail()
	return false
}

// field reads an object key and its colon.
func (s *scanner) field() []byte {
	k := s.raw()
	s.expect(':')
	return k
}

// null consumes a null if there is one.
func (s *scanner) null() bool {
	if s.ok && s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// raw reads a string: its bytes in the file, or a decoded copy when it
// has escapes.
func (s *scanner) raw() []byte {
	if !s.ok || s.peek() != '"' {
		s.fail()
		return nil
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			if !ascii && !utf8.Valid(s.b[start:j]) {
				s.fail() // encoding/json would substitute U+FFFD
			}
			return s.b[start:j]
		case c == '\\':
			return []byte(s.escaped(start - 1))
		case c < 0x20:
			s.fail()
			return nil
		case c >= 0x80:
			ascii = false
		}
	}
	s.fail()
	return nil
}

// str reads a string.
func (s *scanner) str() string { return string(s.raw()) }

func (s *scanner) escaped(open int) string {
	for j := open + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			var out string
			if json.Unmarshal(s.b[open:j+1], &out) != nil {
				s.fail()
			}
			s.i = j + 1
			return out
		}
	}
	s.fail()
	return ""
}

// number reads a JSON number (RFC 8259 grammar) as a json.Number.
func (s *scanner) number() any {
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		s.fail()
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			s.fail()
			return nil
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			s.fail()
			return nil
		}
	}
	return json.Number(s.b[start:s.i])
}

// skip reads any one value.
func (s *scanner) skip() {
	switch c := s.peek(); {
	case c == '{':
		for more := s.open('{', '}'); more; more = s.next('}') {
			s.field()
			s.skip()
		}
	case c == '[':
		for more := s.open('[', ']'); more; more = s.next(']') {
			s.skip()
		}
	case c == '"':
		s.str()
	case c == '-' || c >= '0' && c <= '9':
		s.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return
			}
		}
		s.fail()
	}
}
