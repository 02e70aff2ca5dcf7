package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestColorful(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"a buffer gets no colour", &bytes.Buffer{}, false},
		{"a regular file gets no colour", f, false},
		{"a character device that is no terminal gets no colour", null, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := colorful(tc.w); got != tc.want {
				t.Errorf("colorful = %v, want %v", got, tc.want)
			}
		})
	}
}
