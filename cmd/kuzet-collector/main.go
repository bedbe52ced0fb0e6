// Command kuzet-collector runs one collector of an OISC: it ingests events
// from syslog, HTTP and files, normalises and enriches them, and publishes
// them to NATS JetStream. See internal/collector.
package main

import (
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/cli"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
)

func main() {
	os.Exit(cli.Role[config.Collector, *config.Collector]{
		Name:    "kuzet-collector",
		Default: config.DefaultCollector,
		Log:     func(c *config.Collector) config.Log { return c.Log },
		New: func(cfg config.Collector, log *slog.Logger, reg *prometheus.Registry) (cli.Runner, error) {
			streams, err := collector.DefaultStreams()
			if err != nil {
				return nil, err
			}
			return collector.New(collector.Options{Config: cfg, Streams: streams, Logger: log, Registerer: reg, Gatherer: reg})
		},
	}.Main(os.Args[1:], os.Stdout, os.Stderr))
}
