package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

func init() {
	register("apikey", "make API keys: for a configuration file, or in the store (create, list, revoke)", apikeyCmd)
	register("clickhouse", "run a private ClickHouse server, optionally around a command (used by make test)", clickhouseCmd)
	register("version", "print the version", func(_ []string, _ io.Reader, stdout, _ io.Writer) int {
		fmt.Fprintln(stdout, "kuzet", telemetry.Version())
		return 0
	})
}

// clickhouseCmd starts a private ClickHouse. With a command after "--", it
// runs the command with KUZET_TEST_CLICKHOUSE set to the server's address,
// stops the server afterwards (also when the command fails or is
// interrupted) and exits with the command's status.
func clickhouseCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet clickhouse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "work directory (default: a new temporary directory, removed afterwards)")
	port := fs.Int("port", 0, "native port (0: random)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmdArgs := fs.Args()
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	workdir := *dir
	if workdir == "" {
		d, err := os.MkdirTemp("", "kuzet-clickhouse-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		workdir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := chlocal.Start(ctx, chlocal.Options{Dir: workdir, TCPPort: *port})
	if err != nil {
		fmt.Fprintf(stderr, "kuzet clickhouse: %v\n", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Stop(sctx)
	}()
	fmt.Fprintf(stderr, "kuzet clickhouse: serving on %s (native), %s (http), pid %d\n", srv.Addr(), srv.HTTPAddr(), srv.PID())
	if len(cmdArgs) == 0 {
		fmt.Fprintln(stdout, srv.Addr())
		<-ctx.Done()
		return 0
	}
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = append(os.Environ(), chlocal.EnvTestAddr+"="+srv.Addr())
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "kuzet clickhouse: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(stderr, "kuzet clickhouse: %v\n", err)
		return 1
	}
	return 0
}
