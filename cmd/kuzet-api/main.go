// Command kuzet-api serves kuzet's HTTP API to analysts, critical-object
// owners and regulators. See internal/api.
package main

import (
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/cli"
	"github.com/kuzet-kz/kuzet/internal/config"
)

func main() {
	os.Exit(cli.Role[config.API, *config.API]{
		Name:    "kuzet-api",
		Default: config.DefaultAPI,
		Log:     func(c *config.API) config.Log { return c.Log },
		New: func(cfg config.API, log *slog.Logger, reg *prometheus.Registry) (cli.Runner, error) {
			return api.New(api.Options{Config: cfg, Logger: log, Registerer: reg, Gatherer: reg})
		},
	}.Main(os.Args[1:], os.Stdout, os.Stderr))
}
