// Package natsserver runs the embedded NATS server (the nats-server/v2 Go
// module) with JetStream: in-process for `kuzet run` and tests, and as the
// standalone `kuzet nats` for multi-process tests and small deployments.
package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure a server.
type Options struct {
	// Name is the server name (unique within a cluster); default "kuzet".
	Name string
	Host string
	// Port is the client port: 0 means 4222, -1 a random free port.
	Port int
	// HTTPPort enables the monitoring endpoint when non-zero (-1: random).
	HTTPPort int
	// ProfPort, when non-zero, serves Go's net/http/pprof profiles of the
	// server on Host (for measurements; off by default).
	ProfPort int
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Domain is the JetStream domain (sites and the NCC need distinct ones
	// for leaf-node sourcing).
	Domain string
	// MaxMemory and MaxStore bound JetStream's memory and file storage; 0
	// lets the server choose.
	MaxMemory, MaxStore int64
	// LeafPort, when non-zero, accepts leaf-node connections (-1: random).
	LeafPort int
	// LeafRemotes are hub URLs this server connects to as a leaf node.
	LeafRemotes []string
	// LeafDenyExports are subjects this leaf node does not send to its hub
	// (a site keeps kuzet.events.> local: its stream buffers them and the
	// hub sources them from it).
	LeafDenyExports []string
	// LeafUsers, when set, are the only credentials the leaf listener
	// accepts: one user per site, each limited to its own subjects.
	LeafUsers []LeafUser
	// User and Password, when set, require client authentication.
	User, Password string
	// Cluster, when its Name is set, makes the server a member of a NATS
	// cluster: JetStream then replicates streams over the members (R3
	// needs three), and Name must be unique among them.
	Cluster Cluster
	// Tags are the server's tags (server_tags), which streams' placement
	// tags select.
	Tags   []string
	Logger *slog.Logger
}

// LeafUser is a leaf-node user of the hub's leaf listener. Permissions
// are from the leaf's side, as in nats-server's leafnodes authorization:
// Publish is what the leaf may send into the hub, Subscribe what the hub
// may send to it; an empty list allows nothing that way.
type LeafUser struct {
	User string
	// Password is the password or its bcrypt hash ("$2a$...").
	Password           string
	Publish, Subscribe []string
}

// Cluster configures cluster membership.
type Cluster struct {
	// Name is the cluster's name, the same on every member.
	Name string
	// Host and Port listen for the other members' routes (Host defaults to
	// the client host; Port -1: random).
	Host string
	Port int
	// Routes are the other members' route URLs (nats-route://host:port);
	// listing this server's own is harmless.
	Routes []string
}

// Server is a running embedded server.
type Server struct {
	s        *server.Server
	leafPort int
	host     string
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	if o.Name == "" {
		o.Name = "kuzet"
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName:         o.Name,
		Host:               o.Host,
		Port:               o.Port,
		HTTPHost:           o.Host,
		HTTPPort:           o.HTTPPort,
		ProfPort:           o.ProfPort,
		JetStream:          true,
		JetStreamDomain:    o.Domain,
		StoreDir:           o.StoreDir,
		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxStore,
		MaxPayload:         8 << 20,
		NoSigs:             true,
		Username:           o.User,
		Password:           o.Password,
		Tags:               o.Tags,
	}
	if o.Cluster.Name != "" {
		if o.Cluster.Host == "" {
			o.Cluster.Host = o.Host
		}
		if o.Cluster.Port == 0 {
			return nil, errors.New("natsserver: a cluster member needs a route port")
		}
		opts.Cluster.Name = o.Cluster.Name
		opts.Cluster.Host = o.Cluster.Host
		opts.Cluster.Port = o.Cluster.Port
		for _, r := range o.Cluster.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("natsserver: route %q: not a nats-route://host:port URL", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	if o.LeafPort < 0 {
		p, err := freePort(o.Host)
		if err != nil {
			return nil, err
		}
		o.LeafPort = p
	}
	if o.LeafPort != 0 {
		opts.LeafNode.Host = o.Host
		opts.LeafNode.Port = o.LeafPort
		opts.LeafNode.NoAdvertise = true
	}
	if len(o.LeafUsers) > 0 {
		// nats-server applies permissions to leaf connections only for the
		// server's own users (its leafnodes users take none): the sites are
		// users that may connect as leaf nodes only, and clients are one
		// user that may not connect as a leaf node (the no-auth user when
		// clients need no password).
		if opts.LeafNode.Port == 0 {
			return nil, errors.New("natsserver: leaf users need a leaf port")
		}
		clients := &server.User{Username: o.User, Password: o.Password,
			AllowedConnectionTypes: map[string]struct{}{"STANDARD": {}, "WEBSOCKET": {}}}
		if o.User == "" {
			clients.Username, clients.Password = "kuzet-clients", ""
			opts.NoAuthUser = clients.Username
		}
		opts.Username, opts.Password = "", ""
		opts.Users = append(opts.Users, clients)
		for _, u := range o.LeafUsers {
			if u.User == "" || u.Password == "" || u.User == clients.Username {
				return nil, fmt.Errorf("natsserver: leaf user %q needs a name of its own and a password", u.User)
			}
			opts.Users = append(opts.Users, &server.User{Username: u.User, Password: u.Password,
				AllowedConnectionTypes: map[string]struct{}{"LEAFNODE": {}},
				Permissions: &server.Permissions{
					Publish:   &server.SubjectPermission{Allow: allowOrNone(u.Publish)},
					Subscribe: &server.SubjectPermission{Allow: allowOrNone(u.Subscribe)},
				}})
		}
	}
	for _, r := range o.LeafRemotes {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("natsserver: leaf remote %q: %w", r, err)
		}
		rl := &server.RemoteLeafOpts{URLs: []*url.URL{u}}
		rl.DenyExports = o.LeafDenyExports
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, rl)
	}
	if opts.LeafNode.Remotes != nil {
		opts.LeafNode.ReconnectInterval = 250 * time.Millisecond
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	if o.Logger != nil {
		s.SetLoggerV2(&logger{o.Logger}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("natsserver: not ready for connections within 30s")
	}
	return &Server{s: s, leafPort: o.LeafPort, host: o.Host}, nil
}

// allowOrNone is an allow list that allows nothing when empty.
func allowOrNone(subjects []string) []string {
	if len(subjects) == 0 {
		return []string{"_kuzet_nothing_"}
	}
	return subjects
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// LeafURL is the URL leaf nodes connect to, if leaf connections are enabled.
func (s *Server) LeafURL() string {
	if s.leafPort == 0 {
		return ""
	}
	return "nats-leaf://" + net.JoinHostPort(s.host, strconv.Itoa(s.leafPort))
}

// MonitorURL is the monitoring endpoint's URL, if enabled.
func (s *Server) MonitorURL() string {
	addr := s.s.MonitorAddr()
	if addr == nil {
		return ""
	}
	return "http://" + addr.String()
}

// Shutdown stops the server and waits until it has stopped. Idempotent.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

// Running reports whether the server is running.
func (s *Server) Running() bool { return s.s.Running() }

// logger adapts the server's logger to slog.
type logger struct{ l *slog.Logger }

func (l *logger) Noticef(format string, v ...any) {
	l.l.Info(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *logger) Warnf(format string, v ...any) {
	l.l.Warn(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *logger) Fatalf(format string, v ...any) {
	l.l.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *logger) Errorf(format string, v ...any) {
	l.l.Error(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *logger) Debugf(format string, v ...any) {
	l.l.Debug(fmt.Sprintf(format, v...), "component", "nats")
}
func (l *logger) Tracef(format string, v ...any) {}
