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

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/stack"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

func init() {
	register("run", "run the whole pipeline on this machine (embedded NATS, local ClickHouse, demo feed)", runCmd)
}

func runCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workdir := fs.String("workdir", ".work/run", "directory for NATS, ClickHouse and collector state")
	natsURL := fs.String("nats", "", "use this external NATS server instead of the embedded one")
	natsPort := fs.Int("nats-port", -1, "client port of the embedded NATS server (-1: random)")
	ch := fs.String("clickhouse", "", "use this external ClickHouse (native host:port) instead of a local one")
	db := fs.String("database", "kuzet", "ClickHouse database")
	apiAddr := fs.String("api", "127.0.0.1:8080", "API listen address (port 0: random)")
	ops := fs.String("metrics", "127.0.0.1:9100", "metrics, /healthz and /readyz listen address")
	reg := fs.String("registry", "configs/registry.yaml", "registry of critical objects to import")
	rate := fs.Int("demo-rate", 20, "demo feed records per second (0: no demo feed)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *ch == "" {
		if _, err := chlocal.Find(); err != nil {
			fmt.Fprintf(stderr, "kuzet run: %v\n(or point at a server with -clickhouse host:port)\n", err)
			return 1
		}
	}
	streams, err := collector.DefaultStreams()
	if err != nil {
		fmt.Fprintf(stderr, "kuzet run: pipelines: %v\n", err)
		return 1
	}
	log := telemetry.NewLogger(config.Log{Level: *level, Format: "text"}, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = stack.Run(ctx, stack.Options{
		WorkDir: *workdir, NATSURL: *natsURL, NATSPort: *natsPort, ClickHouseAddr: *ch, Database: *db,
		APIListen: *apiAddr, OpsListen: *ops, RegistryFile: *reg, DemoRate: *rate, Streams: streams, Logger: log,
	}, stdout)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "kuzet run: %v\n", err)
		return 1
	}
	return 0
}
