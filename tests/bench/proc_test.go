package main

import (
	"os"
	"testing"
)

func TestParseStatTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{"utime and stime are added", "1234 (portcullis) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 1000 200 18446744073709551615", 325, false},
		{"a command name with spaces and parentheses is skipped", "99 (a) b (c)) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 10, false},
		{"a truncated line is an error", "1 (x) S 1 1 1 0", 0, true},
		{"a line without a command name is an error", "1 x S", 0, true},
		{"a non-numeric time is an error", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 3 0", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStatTicks([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatTicks = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	t.Parallel()
	status := "Name:\tportcullis\nVmPeak:\t  900000 kB\nVmHWM:\t   43210 kB\nVmRSS:\t   40000 kB\n"
	tests := []struct {
		name    string
		in      string
		field   string
		want    uint64
		wantErr bool
	}{
		{"VmHWM is read from its own line", status, "VmHWM", 43210, false},
		{"a prefix of another name does not match", status, "VmHW", 0, true},
		{"a missing line is an error", "Name:\tx\n", "VmHWM", 0, true},
		{"a value without kB is an error", "VmHWM:\t12\n", "VmHWM", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStatusKB([]byte(tc.in), tc.field)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatusKB = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestOwnProcessIsReadable(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Errorf("cpuTime: %v", err)
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss == 0 {
		t.Errorf("peakRSS = %d, %v; want > 0", rss, err)
	}
}
