package decisionlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// errSpoolFull means a fail_closed spool has no room for a batch.
var errSpoolFull = errors.New("decision log spool is full")

const (
	spoolExt     = ".ndjson"
	spoolTmp     = ".tmp-"
	staleTmpTime = time.Minute // a temp file this old was left by a crash
)

// spool keeps undelivered batches as files in a directory, one NDJSON file
// per batch, named so that lexical order is cut order:
// <unix nanos, 16 hex>-<sequence, 8 hex>-<events>.ndjson. Files are
// written to a temp file, fsynced and renamed, so a crash leaves either a
// whole batch or a temp file (removed later). Only the sender goroutine
// uses a spool.
type spool struct {
	dir        string
	max        int64
	dropOldest bool
	files      []spoolFile // sorted by name, oldest first
	bytes      int64

	gauge prometheus.Gauge
	drops prometheus.Counter
}

type spoolFile struct {
	name   string
	size   int64
	events int
}

func openSpool(o HTTPOptions, m *metrics) (*spool, error) {
	if err := os.MkdirAll(o.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{
		dir:        o.SpoolDir,
		max:        o.SpoolMaxBytes,
		dropOldest: o.OnFull == OnFullDropOldest,
		gauge:      m.spool.WithLabelValues(sinkHTTP),
		drops:      m.drops.WithLabelValues(sinkHTTP, dropSpoolFull),
	}
	return s, s.scan()
}

// scan rebuilds the index from the directory: at start (replaying what a
// previous process left) and when idle (picking up what a Logger closed
// during a reload spooled into the same directory).
func (s *spool) scan() error {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		entries, err = nil, nil // deleted: empty, and put makes it again
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var files []spoolFile
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasPrefix(e.Name(), spoolTmp) {
			if time.Since(info.ModTime()) > staleTmpTime {
				_ = os.Remove(filepath.Join(s.dir, e.Name()))
			}
			continue
		}
		n, ok := spoolEvents(e.Name())
		if !ok {
			continue
		}
		files = append(files, spoolFile{name: e.Name(), size: info.Size(), events: n})
		total += info.Size()
	}
	slices.SortFunc(files, func(a, b spoolFile) int { return strings.Compare(a.name, b.name) })
	s.gauge.Add(float64(total - s.bytes))
	s.files, s.bytes = files, total
	return nil
}

// spoolEvents parses the event count from a batch file name.
func spoolEvents(name string) (int, bool) {
	base, ok := strings.CutSuffix(name, spoolExt)
	if !ok {
		return 0, false
	}
	parts := strings.Split(base, "-")
	if len(parts) != 3 || len(parts[0]) != 16 || len(parts[1]) != 8 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[2])
	return n, err == nil && n > 0
}

func (s *spool) empty() bool { return len(s.files) == 0 }

// oldest reads the oldest batch; files that vanished are skipped, and an
// unreadable one is renamed aside and reported.
func (s *spool) oldest() (*batch, error) {
	for len(s.files) > 0 {
		f := s.files[0]
		data, err := os.ReadFile(filepath.Join(s.dir, f.name))
		if errors.Is(err, os.ErrNotExist) {
			s.forget(0)
			continue
		}
		if err != nil {
			// Set it aside (scan ignores the name) so one unreadable file
			// neither blocks the spool nor is retried forever.
			s.setAside(f.name, ".unreadable")
			return nil, fmt.Errorf("spool: %w", err)
		}
		return &batch{name: f.name, data: data, events: f.events, spooled: true}, nil
	}
	return nil, nil
}

// setAside renames a batch file so that scan ignores it from now on.
func (s *spool) setAside(name, suffix string) {
	if i := slices.IndexFunc(s.files, func(f spoolFile) bool { return f.name == name }); i >= 0 {
		s.forget(i)
	}
	_ = os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, name+suffix))
}

// remove deletes a delivered batch.
func (s *spool) remove(name string) {
	if i := slices.IndexFunc(s.files, func(f spoolFile) bool { return f.name == name }); i >= 0 {
		s.forget(i)
	}
	_ = os.Remove(filepath.Join(s.dir, name))
}

func (s *spool) forget(i int) {
	s.bytes -= s.files[i].size
	s.gauge.Sub(float64(s.files[i].size))
	s.files = slices.Delete(s.files, i, i+1)
}

// put writes b durably. When it does not fit: drop_oldest removes the
// oldest batches (counted; b itself when it is older than all, e.g. a failed
// batch sent while newer ones were spilled, or too big alone), fail_closed
// returns errSpoolFull unless force (at shutdown, where an unlogged
// decision is worse than exceeding the cap by at most one queue).
func (s *spool) put(b *batch, force bool) error {
	size := int64(len(b.data))
	for s.bytes+size > s.max {
		if !s.dropOldest {
			if force {
				break
			}
			return errSpoolFull
		}
		if len(s.files) == 0 || b.name < s.files[0].name { // b is the oldest
			s.drops.Add(float64(b.events))
			b.dropped = true
			return nil
		}
		s.drops.Add(float64(s.files[0].events))
		s.remove(s.files[0].name)
	}
	err := writeAtomic(s.dir, b.name, b.data)
	if errors.Is(err, os.ErrNotExist) {
		// The directory was deleted (an operator cleaning up, a tmpfiles
		// rule): make it again rather than fail every write until restart.
		if err = os.MkdirAll(s.dir, 0o700); err == nil {
			err = writeAtomic(s.dir, b.name, b.data)
		}
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	i, _ := slices.BinarySearchFunc(s.files, b.name, func(f spoolFile, name string) int { return strings.Compare(f.name, name) })
	s.files = slices.Insert(s.files, i, spoolFile{name: b.name, size: size, events: b.events})
	s.bytes += size
	s.gauge.Add(float64(size))
	b.spooled = true
	return nil
}

// writeAtomic writes data to dir/name through a fsynced temp file and a
// rename, then fsyncs the directory so the rename survives a crash.
func writeAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, spoolTmp+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
