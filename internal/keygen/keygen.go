// Package keygen writes API-key bundle data of any size, for the scale
// tests and benchmarks: consumer i has one key, Key(i), in group
// "read-access", the example policy's group that may GET (make
// bench-scale runs that policy).
// The keys are derived from i, so a test can present any of them without
// keeping a million in memory.
package keygen

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Layout is how the consumers are split into data files.
type Layout string

const (
	// OneFile writes the consumers object as one data.json.
	OneFile Layout = "one-file"
	// Split writes each consumer to <name>/data.json below the consumers
	// directory, OPA's own layout for per-consumer files.
	Split Layout = "split"
)

// Key is the API key of consumer i.
func Key(i int) string { return "pk_scale_" + strconv.Itoa(i) }

// Consumer is the name of consumer i.
func Consumer(i int) string { return fmt.Sprintf("c%07d", i) }

// Write writes consumers 0..n-1, except those skip reports (nil skips
// none), into dir, the directory of the consumers object in the bundle
// (e.g. bundle/portcullis/consumers). OneFile replaces data.json by a
// rename, so a watcher never sees it half written.
func Write(dir string, n int, layout Layout, skip func(i int) bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	switch layout {
	case OneFile:
		return writeFile(filepath.Join(dir, "data.json"), func(w *bufio.Writer) {
			w.WriteString("{\n")
			first := true
			for i := range n {
				if skip != nil && skip(i) {
					continue
				}
				if !first {
					w.WriteString(",\n")
				}
				first = false
				fmt.Fprintf(w, "%q: ", Consumer(i))
				writeConsumer(w, i)
			}
			w.WriteString("\n}\n")
		})
	case Split:
		for i := range n {
			if skip != nil && skip(i) {
				continue
			}
			d := filepath.Join(dir, Consumer(i))
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			if err := writeFile(filepath.Join(d, "data.json"), func(w *bufio.Writer) { writeConsumer(w, i) }); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("keygen: layout %q: want %q or %q", layout, OneFile, Split)
	}
}

// Revoke removes consumer i (of n) from the data Write wrote into dir.
func Revoke(dir string, i, n int, layout Layout) error {
	apply, err := Revocation(dir, i, n, layout)
	if err != nil {
		return err
	}
	return apply()
}

// Revocation prepares the removal of consumer i (of n) from the data Write
// wrote into dir; apply makes it in one step (a rename over data.json, or
// removing the consumer's directory), so that what a caller times from
// apply on is the gateway, not the writing of a big file. The new file is
// staged in a hidden directory beside dir, which bundle loaders skip.
func Revocation(dir string, i, n int, layout Layout) (apply func() error, err error) {
	if layout == Split {
		return func() error { return os.RemoveAll(filepath.Join(dir, Consumer(i))) }, nil
	}
	staging := filepath.Join(filepath.Dir(dir), ".keygen-staging")
	if err := Write(staging, n, layout, func(j int) bool { return j == i }); err != nil {
		return nil, err
	}
	return func() error {
		defer os.RemoveAll(staging)
		return os.Rename(filepath.Join(staging, "data.json"), filepath.Join(dir, "data.json"))
	}, nil
}

// WriteRevoked writes the revocation list of consumers is' keys (by
// consumer and id) to dir/data.json, dir being the list's directory in
// the bundle (e.g. bundle/portcullis/revoked_api_keys), by a rename.
func WriteRevoked(dir string, is ...int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "data.json"), func(w *bufio.Writer) {
		w.WriteString("[")
		for j, i := range is {
			if j > 0 {
				w.WriteString(",")
			}
			fmt.Fprintf(w, "\n{\"consumer\": %q, \"id\": \"k%d\", \"reason\": \"keygen\"}", Consumer(i), i)
		}
		w.WriteString("\n]\n")
	})
}

func writeConsumer(w *bufio.Writer, i int) {
	sum := sha256.Sum256([]byte(Key(i)))
	fmt.Fprintf(w, `{"groups": ["read-access"], "keys": [{"id": "k%d", "hash": "sha256:%s"}]}`, i, hex.EncodeToString(sum[:]))
}

// writeFile writes path through a temporary file and a rename.
func writeFile(path string, write func(*bufio.Writer)) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keygen-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	write(w)
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
