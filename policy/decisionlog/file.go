package decisionlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// FileOptions configures the file sink, rotated by lumberjack.
type FileOptions struct {
	Path string
	// MaxSize is the size in bytes at which the file is rotated, rounded up
	// to whole MiB.
	MaxSize int64
	// MaxAge is how long rotated files are kept, rounded up to whole days.
	MaxAge time.Duration
	// MaxBackups is how many rotated files are kept; 0 keeps all (within MaxAge).
	MaxBackups int
	// Compress gzips rotated files.
	Compress bool
}

// Open checks that the path can be written now, rather than at the first
// event, and starts the sink. Reopen makes the next write open the path
// again: after logrotate renamed the file, a new one.
func (o FileOptions) Open(env Env) (Sink, error) {
	lj, err := openFile(o)
	if err != nil {
		return nil, err
	}
	return newStream("file", o, fileWriter{lj, o.Path}, lj, false, env)
}

// fileWriter is the rotating writer plus the path it writes, so that a
// write cut short by a full disk can be truncated back (stream.cutPartial).
type fileWriter struct {
	*lumberjack.Logger
	path string
}

// truncateTail removes the last n bytes of the current file. lumberjack
// rotates only before a write, so the file at path is the one just written.
// Closing it makes the next write reopen the file in append mode (a file
// lumberjack created after a rotation is not), so it lands at the new end.
func (f fileWriter) truncateTail(n int64) error {
	st, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	if err := os.Truncate(f.path, max(st.Size()-n, 0)); err != nil {
		return err
	}
	return f.Close()
}

// openFile validates o and returns its rotating writer.
func openFile(o FileOptions) (*lumberjack.Logger, error) {
	var errs []error
	if o.Path == "" {
		errs = append(errs, errors.New("file.path: is required"))
	}
	// lumberjack reads 0 as its own defaults (100 MiB, no age limit).
	if o.MaxSize < 1 {
		errs = append(errs, fmt.Errorf("file.max_size: %d (want at least 1 byte)", o.MaxSize))
	}
	if o.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("file.max_age: %s (want a positive duration)", o.MaxAge))
	}
	if o.MaxBackups < 0 {
		errs = append(errs, fmt.Errorf("file.max_backups: %d (want 0 for all, or more)", o.MaxBackups))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
		return nil, fmt.Errorf("file.path: %w", err)
	}
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file.path: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("file.path: %w", err)
	}
	const mib, day = 1 << 20, 24 * time.Hour
	return &lumberjack.Logger{
		Filename:   o.Path,
		MaxSize:    int((o.MaxSize + mib - 1) / mib),
		MaxAge:     int((o.MaxAge + day - 1) / day),
		MaxBackups: o.MaxBackups,
		Compress:   o.Compress,
	}, nil
}
