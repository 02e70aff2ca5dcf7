package decisionlog

import (
	"testing"
	"time"
)

// TestTimestampMatchesAppendFormat: the held second and the fraction give
// the bytes of time.RFC3339Nano in UTC, for one cell that sees each time
// in turn (a new second, the same second again, an earlier one), at every
// fraction length, in other zones, and at years AppendFormat writes with
// fewer or more than four digits.
func TestTimestampMatchesAppendFormat(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	times := []time.Time{
		time.Date(2026, 3, 4, 5, 6, 7, 123456789, cet),
		time.Date(2026, 3, 4, 5, 6, 7, 0, cet),
		time.Date(2026, 3, 4, 5, 6, 7, 100000000, cet),
		time.Date(2026, 3, 4, 4, 6, 7, 120000000, time.UTC), // the same second, named in UTC
		time.Date(2026, 3, 4, 5, 6, 8, 1, cet),
		time.Date(2026, 3, 4, 5, 6, 7, 10, cet), // back a second
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC), // before the epoch
		time.Date(0, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 6, 1, 0, 0, 0, 7000, time.UTC),
		time.Unix(0, 0),
		{},
	}
	var c timestampCell
	for _, ts := range times {
		got := string(c.appendTo([]byte("x"), ts))
		if want := "x" + ts.UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("%v: got %q, want %q", ts, got, want)
		}
	}
}

// FuzzTimestamp: one cell given two times, the second often in the same
// second as the first, writes what time.RFC3339Nano does for both.
func FuzzTimestamp(f *testing.F) {
	f.Add(int64(1772597167), int64(123456789), int64(0), int64(5))
	f.Add(int64(-62135596800), int64(0), int64(1), int64(999999999))
	f.Add(int64(1<<40), int64(1), int64(-1), int64(10))
	f.Fuzz(func(t *testing.T, sec, nsec, dsec, nsec2 int64) {
		var c timestampCell
		for _, ts := range []time.Time{time.Unix(sec, nsec), time.Unix(sec+dsec%3, nsec2)} {
			if got, want := string(c.appendTo(nil, ts)), ts.UTC().Format(time.RFC3339Nano); got != want {
				t.Fatalf("%d.%09d: got %q, want %q", ts.Unix(), ts.Nanosecond(), got, want)
			}
		}
	})
}
