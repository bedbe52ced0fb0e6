// Command kuzet-ncc runs the national aggregator: it consumes the event
// stream and stores events in ClickHouse. See internal/ncc.
package main

import (
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/cli"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/ncc"
)

func main() {
	os.Exit(cli.Role[config.NCC, *config.NCC]{
		Name:    "kuzet-ncc",
		Default: config.DefaultNCC,
		Log:     func(c *config.NCC) config.Log { return c.Log },
		New: func(cfg config.NCC, log *slog.Logger, reg *prometheus.Registry) (cli.Runner, error) {
			return ncc.New(ncc.Options{Config: cfg, Logger: log, Registerer: reg, Gatherer: reg})
		},
	}.Main(os.Args[1:], os.Stdout, os.Stderr))
}
