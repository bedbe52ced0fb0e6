package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

func init() {
	register("nats", "run the embedded NATS server with JetStream standalone", natsCmd)
}

func natsCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "listen host")
	port := fs.Int("port", 4222, "client port (-1: random)")
	httpPort := fs.Int("http-port", 0, "monitoring port (0: off, -1: random)")
	store := fs.String("store", ".work/nats", "JetStream store directory")
	name := fs.String("name", "kuzet", "server name")
	domain := fs.String("domain", "", "JetStream domain (a site and the NCC need distinct domains)")
	leafPort := fs.Int("leaf-port", 0, "accept leaf-node connections on this port (0: off, -1: random)")
	remotes := fs.String("leaf-remotes", "", "comma-separated hub URLs to connect to as a leaf node")
	maxStore := fs.Int64("max-store", 0, "JetStream file storage limit in bytes (0: server default)")
	clusterName := fs.String("cluster", "", "NATS cluster name, the same on every member (empty: no cluster); -name must differ per member")
	clusterPort := fs.Int("cluster-port", 6222, "route port of a cluster member (-1: random)")
	clusterHost := fs.String("cluster-host", "", "route listen host (default: -host)")
	routes := fs.String("routes", "", "comma-separated route URLs of the other members (nats-route://host:port)")
	level := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var cluster natsserver.Cluster
	if *clusterName != "" {
		cluster = natsserver.Cluster{Name: *clusterName, Host: *clusterHost, Port: *clusterPort, Routes: splitList(*routes)}
	} else if *routes != "" {
		fmt.Fprintln(stderr, "kuzet nats: -routes needs -cluster")
		return 2
	}
	log := telemetry.NewLogger(config.Log{Level: *level, Format: "text"}, stderr)
	s, err := natsserver.Start(natsserver.Options{Name: *name, Host: *host, Port: *port, HTTPPort: *httpPort, StoreDir: *store,
		Domain: *domain, LeafPort: *leafPort, LeafRemotes: splitList(*remotes), MaxStore: *maxStore, Cluster: cluster, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "kuzet nats: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "nats %s\n", s.ClientURL())
	if u := s.LeafURL(); u != "" {
		fmt.Fprintf(stdout, "leaf %s\n", u)
	}
	if u := s.MonitorURL(); u != "" {
		fmt.Fprintf(stdout, "monitor %s\n", u)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	s.Shutdown()
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
