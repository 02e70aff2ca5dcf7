package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/gateway/server"
	"github.com/portcullis/portcullis/gateway/tracing"
	"github.com/portcullis/portcullis/internal/gctune"
)

var runCmd = &command{
	name:     "run",
	args:     "[--config FILE]",
	synopsis: "serve the gateway; SIGHUP or a changed file builds a new generation and reopens log files",
	example:  "portcullis run --config portcullis.yaml",
	exits: []exitCode{
		{0, "stopped by SIGTERM or SIGINT after draining"},
		{1, "the configuration, a bundle, a spec or a key file failed to load, or the server failed"},
		exitUsage,
	},
	flags: configCommand(cmdRun),
}

var checkCmd = &command{
	name:     "check",
	args:     "[--config FILE]",
	synopsis: "validate the configuration, bundles, OpenAPI specs and key files as run would load them",
	example:  "portcullis check --config portcullis.yaml",
	exits: []exitCode{
		{0, "everything loads (prints FILE: OK (N routes))"},
		{1, "problems were found; each is printed on stderr"},
		exitUsage,
	},
	flags: configCommand(cmdCheck),
}

func cmdRun(cfg *config.Config, _ string, _, stderr io.Writer) int {
	log := newLogger(cfg.Log, stderr)
	gc := gctune.Apply(os.Getenv, gctune.CgroupMemoryFiles)
	log.Info().Str("gc_percent", gc.GCPercent).Str("memory_limit", gc.MemoryLimit).Msg("garbage collector")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tracer, err := tracing.New(ctx, cfg, buildVersion())
	if err != nil {
		fmt.Fprintf(stderr, "portcullis: %v\n", err)
		return 1
	}
	defer shutdownTracing(tracer, log)
	srv, err := server.New(ctx, cfg, server.Options{Logger: log, Version: buildVersion(), Tracer: tracer})
	if err != nil {
		fmt.Fprintf(stderr, "portcullis: %v\n", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			// Reload logs its outcome once, failure included.
			_ = srv.Reload(ctx, "SIGHUP")
		}
	}()
	if err := srv.Run(ctx); err != nil {
		log.Error().Err(err).Msg("gateway stopped")
		return 1
	}
	return 0
}

// shutdownTracing exports the spans still queued, for a few seconds at most:
// a collector that is down must not hold up the exit.
func shutdownTracing(t *tracing.Tracer, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("tracing: spans not all exported at shutdown")
	}
}

// cmdCheck builds the generation run would build, starting nothing, and
// reports every problem.
func cmdCheck(cfg *config.Config, cfgPath string, stdout, stderr io.Writer) int {
	if errs := generation.Check(context.Background(), cfg); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d routes)\n", cfgPath, len(cfg.Routes))
	return 0
}

// configFlag adds the --config flag every command that reads the configuration takes.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "portcullis.yaml", "configuration file")
}

// configCommand is the flags of a command that takes only --config: it
// loads the configuration (exit 1 if that fails) and runs do.
func configCommand(do func(cfg *config.Config, path string, stdout, stderr io.Writer) int) func(*flag.FlagSet) runner {
	return func(fs *flag.FlagSet) runner {
		p := configFlag(fs)
		return func(_ []string, stdout, stderr io.Writer) int {
			cfg, ok := loadConfig(*p, stderr)
			if !ok {
				return 1
			}
			return do(cfg, *p, stdout, stderr)
		}
	}
}

// loadConfig loads path, printing every problem to stderr when it fails.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		printConfigErrors(stderr, err)
		return nil, false
	}
	return cfg, true
}

func printConfigErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

func newLogger(c config.Log, w io.Writer) zerolog.Logger {
	// RFC 3339 in UTC with milliseconds, and durations as Go writes them
	// ("250ms", "1m30s"), as the configuration does (issue 18).
	zerolog.TimeFieldFormat = logTimeFormat
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	var out io.Writer = w
	if c.Format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: logTimeFormat, NoColor: !colorful(w)}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// colorful tells whether console output to w may use ANSI colours: only on
// a terminal, and not when NO_COLOR is set (https://no-color.org). A file,
// a pipe or journald gets plain text.
func colorful(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
