package bundle

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// readTarball reads a .tar.gz bundle into memory after checking that both
// its compressed and its uncompressed size stay within maxBytes, so that a
// gzip bomb made of many files each under the per-file cap is refused
// before OPA's loader buffers them.
func readTarball(path string, maxBytes int64) (*bytes.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > maxBytes {
		return nil, fmt.Errorf("bundle archive exceeds %d bytes", maxBytes)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("bundle archive: %w", err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bundle archive: %w", err)
	}
	if n > maxBytes {
		return nil, fmt.Errorf("bundle archive exceeds %d bytes uncompressed", maxBytes)
	}
	return bytes.NewReader(raw), nil
}
