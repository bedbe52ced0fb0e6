package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/verify"
)

func init() {
	register("verify", "compare the events collectors accepted (their journals) with those stored: lost and duplicated", verifyCmd)
}

func verifyCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ch := fs.String("clickhouse", "127.0.0.1:9000", "ClickHouse native address(es), comma-separated")
	db := fs.String("database", "kuzet", "ClickHouse database")
	user := fs.String("user", "default", "ClickHouse user (password: KUZET_CLICKHOUSE_PASSWORD)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kuzet verify [flags] JOURNAL|DATA_DIR...\n\nJournals are the collectors' accepted.ids files (collector journal: true);\na directory is searched for them. Exit status 1 when events were lost or duplicated.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	ids, collectors, err := verify.ReadJournals(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "kuzet verify: %v\n", err)
		return 2
	}
	cfg := config.DefaultClickHouse()
	cfg.Addr, cfg.Database, cfg.User = strings.Split(*ch, ","), *db, *user
	eo := envOnly{ClickHouse: cfg}
	if err := config.Load("", &eo); err != nil {
		fmt.Fprintf(stderr, "kuzet verify: %v\n", err)
		return 2
	}
	cfg = eo.ClickHouse
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet verify: %v\n", err)
		return 1
	}
	defer st.Close()
	rep, err := verify.Compare(ctx, st, ids, collectors)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "collectors %s\n", strings.Join(collectors, ","))
	rep.Print(stdout)
	if !rep.OK() {
		return 1
	}
	return 0
}

// envOnly lets KUZET_CLICKHOUSE_* variables (the password) reach the flags'
// configuration.
type envOnly struct {
	ClickHouse config.ClickHouse `yaml:"clickhouse"`
}

func (e *envOnly) Validate() error { return nil }
