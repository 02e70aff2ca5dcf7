package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
)

// MaxEventBytes bounds one event as read: the gateway writes inputs of at
// most the body limit plus the request facts, so a longer line is not one
// of its events.
const MaxEventBytes = 64 << 20

// Record is one event's text and where it was read.
type Record struct {
	// Pos is "file:line" for JSON lines, "file:#n" for the n-th element
	// of a JSON array.
	Pos  string
	Data []byte
}

// Read calls fn for every event in r, named name in positions. It accepts
// the file sink's JSON lines (NDJSON), a JSON array of events, and either
// gzip-compressed: the HTTP sink's "opa" format (OPA's upload format, a
// gzip-compressed JSON array), its gzipped ndjson, and rotated files
// compressed by the file sink. The error is a read error, or a JSON array
// that breaks off (nothing after the break can be found); a malformed line
// of JSON lines is a Record like any other, for ParseEvent to refuse.
func Read(r io.Reader, name string, fn func(Record)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	if first, err := firstByte(br); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	} else if first == '[' {
		return readArray(br, name, fn)
	}
	return readLines(br, name, fn)
}

// firstByte is the first byte that is not white space, left unread; 0 at
// the end of r.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

func readLines(br *bufio.Reader, name string, fn func(Record)) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 1<<16), MaxEventBytes)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		fn(Record{Pos: fmt.Sprintf("%s:%d", name, n), Data: bytes.Clone(line)})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func readArray(br *bufio.Reader, name string, fn func(Record)) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // '['
		return fmt.Errorf("%s: %w", name, err)
	}
	for n := 1; dec.More(); n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s:#%d: %w", name, n, err)
		}
		fn(Record{Pos: fmt.Sprintf("%s:#%d", name, n), Data: raw})
	}
	if _, err := dec.Token(); err != nil { // ']'
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
