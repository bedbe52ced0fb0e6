// Package cli holds what the kuzet commands share: the main of a role
// binary (flags -config, -check-config, -version; exit 2 for a bad
// configuration, 1 for a runtime failure; SIGINT and SIGTERM stop the role in
// order) and small helpers.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Runner runs until ctx ends, then stops in order.
type Runner interface {
	Run(ctx context.Context) error
}

// Role describes a role binary. C is the role's configuration struct; its
// pointer validates it.
type Role[C any, PC interface {
	*C
	config.Validator
}] struct {
	// Name is the binary's name (kuzet-collector, ...).
	Name string
	// Default returns the built-in defaults.
	Default func() C
	// Log returns the configuration's log settings.
	Log func(*C) config.Log
	// New builds the role.
	New func(cfg C, log *slog.Logger, reg *prometheus.Registry) (Runner, error)
}

// Main parses args (without the program name), loads the configuration and
// runs the role until SIGINT or SIGTERM. It returns the exit code.
func (r Role[C, PC]) Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(r.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); KUZET_* variables override it")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-config FILE] [-check-config] [-version]\n", r.Name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %s\n", r.Name, strings.Join(fs.Args(), " "))
		return ExitUsage
	}
	if *version {
		fmt.Fprintln(stdout, r.Name, telemetry.Version())
		return ExitOK
	}
	cfg := r.Default()
	if err := config.Load(*path, PC(&cfg)); err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%s\n", r.Name, indent(err.Error()))
		return ExitUsage
	}
	if *check {
		fmt.Fprintf(stdout, "%s: configuration ok\n", r.Name)
		return ExitOK
	}
	log := telemetry.NewLogger(r.Log(&cfg), stderr).With("service", r.Name)
	reg := telemetry.NewRegistry()
	role, err := r.New(cfg, log, reg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", r.Name, err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting", "version", telemetry.Version())
	if err := role.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return ExitFailure
	}
	return ExitOK
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
