package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/loadgen"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

func init() {
	register("loadgen", "send realistic records to collectors, wait until they are queryable, and write the figures as JSON", loadgenCmd)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func loadgenCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rate := fs.String("rate", "max", "records per second, or max (as fast as the inputs take them)")
	duration := fs.Duration("duration", 30*time.Second, "how long to send")
	mixFile := fs.String("mix", "", "mix file (YAML; default: the embedded mix)")
	out := fs.String("out", "", "write the JSON result to this file (-: stdout)")
	var targets, pids, journals listFlag
	fs.Var(&targets, "target", "a collector: OISC:syslog=ADDR,winevent=ADDR,zeek=ADDR,suricata=ADDR (repeatable)")
	fs.Var(&pids, "pid", "report CPU and peak memory of NAME=PID (repeatable; loadgen's own is always reported)")
	fs.Var(&journals, "journal", "collector journal file or data directory for kuzet verify's counts (repeatable)")
	reg := fs.String("registry", "configs/registry.yaml", "registry whose objects give the hosts and addresses")
	ch := fs.String("clickhouse", "127.0.0.1:9000", "ClickHouse native address(es), comma-separated (password: KUZET_CLICKHOUSE_PASSWORD)")
	db := fs.String("database", "kuzet", "ClickHouse database of the ncc")
	user := fs.String("user", "default", "ClickHouse user")
	deadline := fs.Duration("deadline", 2*time.Minute, "after sending, wait at most this long for every record to be queryable")
	workers := fs.Int("workers", 2, "sending goroutines")
	every := fs.Uint64("sample-every", 0, "sample every Nth record for latency (0: about 2,000 samples; every 100th at max)")
	poll := fs.Duration("sample-poll", 500*time.Millisecond, "store poll interval for samples (the latency resolution)")
	nccMetrics := fs.String("ncc-metrics", "", "the ncc's /metrics URL: its consumer lag is read every second and the peak reported")
	label := fs.String("label", "", "name of the run in the summary")
	seed := fs.Uint64("seed", 0, "random seed (0: random)")
	level := fs.String("log-level", "info", "log level")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kuzet loadgen --target OISC:syslog=ADDR,... [--rate N|max] [--duration D] [--mix FILE] [--out FILE]\n\n"+
			"The API key of the HTTP inputs is read from KUZET_LOADGEN_KEY. Exit status 1 when a sent record\n"+
			"was lost or duplicated, or not queryable before the deadline.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kuzet loadgen: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	o := loadgen.Options{Duration: *duration, Deadline: *deadline, Workers: *workers, SampleEvery: *every,
		SamplePoll: *poll, NCCMetrics: *nccMetrics, Label: *label, Seed: *seed, Journals: journals, Key: os.Getenv("KUZET_LOADGEN_KEY"), PIDs: map[string]int{}}
	if *rate != "max" {
		n, err := strconv.Atoi(*rate)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "kuzet loadgen: -rate %q: want a positive number or max\n", *rate)
			return 2
		}
		o.Rate = n
	}
	for _, t := range targets {
		tg, err := loadgen.ParseTarget(t)
		if err != nil {
			fmt.Fprintf(stderr, "kuzet loadgen: %v\n", err)
			return 2
		}
		o.Targets = append(o.Targets, tg)
	}
	for _, p := range pids {
		name, v, ok := strings.Cut(p, "=")
		pid, err := strconv.Atoi(v)
		if !ok || err != nil || name == "" {
			fmt.Fprintf(stderr, "kuzet loadgen: -pid %q: want NAME=PID\n", p)
			return 2
		}
		o.PIDs[name] = pid
	}
	if *mixFile != "" {
		m, err := loadgen.LoadMix(*mixFile)
		if err != nil {
			fmt.Fprintf(stderr, "kuzet loadgen: mix: %v\n", err)
			return 2
		}
		o.Mix, o.MixName = m, *mixFile
	}
	r, err := registry.LoadFile(*reg)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet loadgen: %v\n", err)
		return 2
	}
	o.Registry = r
	cfg := config.DefaultClickHouse()
	cfg.Addr, cfg.Database, cfg.User = strings.Split(*ch, ","), *db, *user
	eo := envOnly{ClickHouse: cfg}
	if err := config.Load("", &eo); err != nil {
		fmt.Fprintf(stderr, "kuzet loadgen: %v\n", err)
		return 2
	}
	o.ClickHouse = eo.ClickHouse
	o.Logger = telemetry.NewLogger(config.Log{Level: *level, Format: "text"}, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet loadgen: %v\n", err)
		return 2
	}
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		b = append(b, '\n')
		if *out == "-" {
			_, err = stdout.Write(b)
		} else {
			err = os.WriteFile(*out, b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kuzet loadgen: %v\n", err)
			return 1
		}
	}
	res.Summary(stdout)
	if !res.Complete || res.Lost > 0 || res.Duplicated > 0 || (res.Verify != nil && (res.Verify.Lost > 0 || res.Verify.Duplicated > 0)) {
		return 1
	}
	return 0
}
