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

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/server"
	"github.com/portcullis/portcullis/internal/gctune"
)

func cmdRun(args []string, _, stderr io.Writer) int {
	cfg, _, code := configCommand("run", args, stderr)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg.Log, stderr)
	gc := gctune.Apply(os.Getenv, gctune.CgroupMemoryFiles)
	log.Info().Str("gc_percent", gc.GCPercent).Str("memory_limit", gc.MemoryLimit).Msg("garbage collector")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.New(ctx, cfg, server.Options{Logger: log, Version: buildVersion()})
	if err != nil {
		fmt.Fprintf(stderr, "portcullis: %v\n", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info().Msg("SIGHUP: reloading bundles and specs, reopening log files")
			if err := srv.Reload(ctx); err != nil {
				log.Error().Err(err).Msg("reload failed; the running policy and specs are kept")
			}
		}
	}()
	if err := srv.Run(ctx); err != nil {
		log.Error().Err(err).Msg("gateway stopped")
		return 1
	}
	return 0
}

// cmdCheck loads everything run would load and reports every problem.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	cfg, cfgPath, code := configCommand("check", args, stderr)
	if cfg == nil {
		return code
	}
	if errs := server.Check(context.Background(), cfg); len(errs) > 0 {
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

// configCommand parses the flags of a command that takes only --config and
// loads the configuration; when cfg is nil, code is the exit code.
func configCommand(name string, args []string, stderr io.Writer) (cfg *config.Config, path string, code int) {
	fs := newFlags(name, stderr)
	p := configFlag(fs)
	if code := parseFlags(fs, args); code != 0 {
		return nil, "", max(code, 0)
	}
	cfg, ok := loadConfig(*p, stderr)
	if !ok {
		return nil, *p, 1
	}
	return cfg, *p, 0
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
	zerolog.TimeFieldFormat = zerolog.TimeFormatUnixMs
	var out io.Writer = w
	if c.Format == "console" {
		out = zerolog.ConsoleWriter{Out: w}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}
