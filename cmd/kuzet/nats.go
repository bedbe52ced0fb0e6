package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/bus"
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
	tags := fs.String("tags", "", "comma-separated server tags (e.g. az:1), which roles' nats.placement_tags select for their streams")
	leafUsers := fs.String("leaf-users", "", "YAML file of the sites' leaf-node users: [{site, user, password_file}]; each may connect only as its site's leaf node, limited to what sourcing needs (needs -domain)")
	level := fs.String("log-level", "info", "log level")
	profPort := fs.Int("prof-port", 0, "serve Go pprof profiles of the server on this port of -host (0: off)")
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
	var users []natsserver.LeafUser
	if *leafUsers != "" {
		var err error
		if users, err = loadLeafUsers(*leafUsers, *domain); err != nil {
			fmt.Fprintf(stderr, "kuzet nats: -leaf-users: %v\n", err)
			return 2
		}
	}
	log := telemetry.NewLogger(config.Log{Level: *level, Format: "text"}, stderr)
	s, err := natsserver.Start(natsserver.Options{Name: *name, Host: *host, Port: *port, HTTPPort: *httpPort, ProfPort: *profPort, StoreDir: *store,
		Domain: *domain, LeafPort: *leafPort, LeafRemotes: splitList(*remotes), MaxStore: *maxStore, Cluster: cluster, LeafUsers: users, Tags: splitList(*tags), Logger: log})
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

// leafUserFile is an entry of -leaf-users. The password file holds the
// password or its bcrypt hash ("$2a$..."), so the hub need not keep the
// site's secret itself.
type leafUserFile struct {
	Site         string `yaml:"site"`
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
}

func loadLeafUsers(path, hubDomain string) ([]natsserver.LeafUser, error) {
	if hubDomain == "" {
		return nil, errors.New("needs -domain (the hub's JetStream domain)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []leafUserFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []natsserver.LeafUser
	for i, e := range entries {
		if e.Site == "" || e.User == "" || e.PasswordFile == "" {
			return nil, fmt.Errorf("%s: [%d]: site, user and password_file are required", path, i)
		}
		pw, err := os.ReadFile(e.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%s: [%d]: %w", path, i, err)
		}
		pub, sub := bus.SiteLeafPermissions(e.Site, hubDomain)
		out = append(out, natsserver.LeafUser{User: e.User, Password: strings.TrimSpace(string(pw)), Publish: pub, Subscribe: sub})
	}
	return out, nil
}
