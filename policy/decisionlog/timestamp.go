package decisionlog

import (
	"sync/atomic"
	"time"
)

// secondLayout is RFC3339Nano up to the seconds: the part of a timestamp
// every event of one second shares.
const secondLayout = "2006-01-02T15:04:05"

// heldSecond is the date and time of day of one second, formatted.
type heldSecond struct {
	unix int64
	b    []byte
}

// timestampCell formats event timestamps as time.RFC3339Nano in UTC. The
// date and clock of the current second are formatted once and copied by
// every event of that second (a busy gateway logs thousands per second);
// only the fraction is written per event. The output is byte for byte
// ts.UTC().AppendFormat(b, time.RFC3339Nano) (FuzzTimestamp).
type timestampCell struct {
	p atomic.Pointer[heldSecond]
}

// appendTo appends ts in UTC as time.RFC3339Nano writes it.
func (c *timestampCell) appendTo(b []byte, ts time.Time) []byte {
	u := ts.UTC()
	sec := u.Unix()
	h := c.p.Load()
	if h == nil || h.unix != sec {
		h = &heldSecond{unix: sec, b: u.AppendFormat(nil, secondLayout)}
		c.p.Store(h)
	}
	b = append(b, h.b...)
	if ns := u.Nanosecond(); ns != 0 {
		// Nine digits, then the trailing zeros cut, as ".999999999" does.
		var f [10]byte
		f[0] = '.'
		for i := 9; i > 0; i-- {
			f[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for f[n-1] == '0' {
			n--
		}
		b = append(b, f[:n]...)
	}
	return append(b, 'Z')
}
