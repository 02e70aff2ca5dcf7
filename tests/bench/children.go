package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process the benchmark started and must stop.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.Closer // closing it tells a role child to exit; nil for the gateway
	log   string    // file with the child's output
	done  chan struct{}
}

// startChild starts argv with its output in logPath. SIGKILL on the
// parent's death (Pdeathsig) and, for role children, EOF on stdin make sure
// no child outlives an interrupted or crashed benchmark.
func startChild(name, logPath string, argv []string, withStdin bool) (*child, io.Reader, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	c := &child{name: name, log: logPath, done: make(chan struct{})}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.cmd.Stderr = logf
	var stdout io.Reader
	if withStdin {
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			return nil, nil, err
		}
		// An os.Pipe rather than StdoutPipe: Wait runs concurrently with
		// the reader and must not close the read end under it.
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		defer w.Close()
		c.cmd.Stdout, stdout = w, r
	} else {
		c.cmd.Stdout = logf
	}
	if err := c.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	return c, stdout, nil
}

// startRole re-executes this program as role and returns the child with
// the address it listens on.
func startRole(name, logPath, role string, args ...string) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	argv := append([]string{self, "-role=" + role, "-listen=127.0.0.1:0"}, args...)
	c, stdout, err := startChild(name, logPath, argv, true)
	if err != nil {
		return nil, "", err
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- strings.TrimSpace(s.Text())
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case addr, ok := <-line:
		if ok && addr != "" {
			return c, addr, nil
		}
	case <-time.After(10 * time.Second):
	}
	c.stop()
	return nil, "", fmt.Errorf("%s did not report its address:\n%s", name, c.logTail())
}

// waitReady polls url until it answers 200, the child exits, or 30 s pass.
func (c *child) waitReady(ctx context.Context, url string) error {
	return c.waitReadyWithin(ctx, url, 30*time.Second)
}

// waitReadyWithin is waitReady with a limit of within: a gateway with a
// million API keys takes longer than 30 s to start.
func (c *child) waitReadyWithin(ctx context.Context, url string, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready:\n%s", c.name, c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s:\n%s", c.name, within, c.logTail())
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to exit (stdin EOF and SIGTERM) and kills it after 5 s.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	if c.stdin != nil {
		_ = c.stdin.Close()
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// logTail returns the last 2 KiB of the child's output.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// errChildExited is returned when a target died during the benchmark.
var errChildExited = errors.New("exited during the benchmark")

// alive returns errChildExited (with the log tail) once the child has exited.
func (c *child) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s %w:\n%s", c.name, errChildExited, c.logTail())
	default:
		return nil
	}
}
