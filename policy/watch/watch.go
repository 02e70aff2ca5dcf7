// Package watch calls a function, debounced, when bundle files change on disk.
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// eventBuffer bounds fsnotify's event channel. The reader goroutine only
// filters and resets a timer, so it never falls behind for long.
const eventBuffer = 256

// Options configures a Watcher.
type Options struct {
	// Paths are bundle directories (watched recursively, including
	// directories created later) and files (their parent directory is
	// watched and events filtered, so rename-into-place and Kubernetes
	// ConfigMap "..data" symlink swaps are seen).
	Paths []string
	// Debounce is the quiet period after the last event before OnChange
	// runs; 0 runs it at once.
	Debounce time.Duration
	// OnChange is called once per burst of changes, never concurrently
	// with itself. Changes during a call cause exactly one more call.
	OnChange func()
	// Logger receives watch errors. The zero value logs nothing.
	Logger zerolog.Logger
}

// Watcher watches bundle paths until Close.
type Watcher struct {
	fw       *fsnotify.Watcher
	opts     Options
	dirs     map[string]bool // directory targets
	files    map[string]bool // file targets
	parents  map[string]bool // parents watched for file targets and directory replacement
	timer    *time.Timer
	kick     chan struct{} // one pending OnChange at most
	done     chan struct{}
	wg       sync.WaitGroup
	closeOne sync.Once
}

// New starts watching. It fails when a path does not exist.
func New(opts Options) (*Watcher, error) {
	if opts.OnChange == nil {
		return nil, errors.New("watch: OnChange is nil")
	}
	if opts.Debounce < 0 {
		return nil, fmt.Errorf("watch: debounce %s is negative", opts.Debounce)
	}
	fw, err := fsnotify.NewBufferedWatcher(eventBuffer)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		fw: fw, opts: opts,
		dirs: map[string]bool{}, files: map[string]bool{}, parents: map[string]bool{},
		kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	for _, p := range opts.Paths {
		if err := w.add(p); err != nil {
			_ = fw.Close()
			return nil, err
		}
	}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	w.wg.Add(2)
	go w.read()
	go w.run()
	return w, nil
}

func (w *Watcher) add(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	parent := filepath.Dir(abs)
	if err := w.fw.Add(parent); err != nil {
		return err
	}
	w.parents[parent] = true
	if !fi.IsDir() {
		w.files[abs] = true
		return nil
	}
	w.dirs[abs] = true
	return w.addTree(abs)
}

// addTree watches dir and every directory below it.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return w.fw.Add(p)
		}
		return nil
	})
}

// Close stops watching and waits for a running OnChange to return.
func (w *Watcher) Close() error {
	var err error
	w.closeOne.Do(func() {
		close(w.done)
		w.timer.Stop()
		err = w.fw.Close()
		w.wg.Wait()
	})
	return err
}

// read filters events and restarts the debounce timer; it never blocks on
// OnChange, so fsnotify is never blocked by a slow reload.
func (w *Watcher) read() {
	defer w.wg.Done()
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || !w.relevant(ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) && w.underDir(filepath.Clean(ev.Name)) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					if err := w.addTree(ev.Name); err != nil {
						w.opts.Logger.Warn().Err(err).Str("path", ev.Name).Msg("watch new directory failed")
					}
				}
			}
			w.timer.Reset(w.opts.Debounce)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			// An overflow may have hidden a change: reload to be safe.
			w.opts.Logger.Warn().Err(err).Msg("bundle watch error")
			w.timer.Reset(w.opts.Debounce)
		}
	}
}

// relevant reports whether an event on name may change a watched bundle.
func (w *Watcher) relevant(name string) bool {
	name = filepath.Clean(name)
	if w.files[name] || w.underDir(name) {
		return true
	}
	// Kubernetes' atomic writer swaps the "..data" symlink in the parent.
	return w.parents[filepath.Dir(name)] && strings.HasPrefix(filepath.Base(name), "..")
}

// underDir reports whether name is a directory target or below one.
func (w *Watcher) underDir(name string) bool {
	for d := range w.dirs {
		if name == d || strings.HasPrefix(name, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (w *Watcher) fire() {
	select {
	case w.kick <- struct{}{}:
	default: // one call is already pending; it will see this change
	}
}

func (w *Watcher) run() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case <-w.kick:
			select {
			case <-w.done:
				return
			default:
			}
			w.opts.OnChange()
		}
	}
}
