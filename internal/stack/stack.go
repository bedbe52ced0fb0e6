// Package stack runs the whole kuzet pipeline on one machine, for
// `kuzet run`: an embedded NATS server with JetStream (or an external one), a
// local ClickHouse child process (or an external server), the registry
// imported into its KV bucket, two collectors for two OISCs, the ncc, the
// API with a development key, and the demo feed. Every role runs through the
// same package code as its own binary.
//
// Stop order: demo feed, collectors (their inputs first), ncc (flushes and
// acks), API, ClickHouse, NATS; each step bounded, so Stop always returns.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// Options configure a stack.
type Options struct {
	// WorkDir holds NATS and ClickHouse data and the collectors' state.
	WorkDir string
	// NATSURL points at an external NATS; empty embeds a server.
	NATSURL string
	// NATSPort is the embedded server's client port (-1: random).
	NATSPort int
	// ClickHouseAddr points at an external ClickHouse (native host:port);
	// empty starts a local one.
	ClickHouseAddr string
	Database       string
	// APIListen and OpsListen are host:port (port 0: random).
	APIListen string
	OpsListen string
	// RegistryFile is imported into the registry bucket at start.
	RegistryFile string
	// DemoRate is the demo feed's records per second; 0 disables it.
	DemoRate int
	// Streams opens the collectors' normalisation streams.
	Streams collector.StreamFactory
	Logger  *slog.Logger
}

// Collector inputs of every stack collector.
const (
	InputSyslogTCP = "syslog-tcp"
	InputSyslogUDP = "syslog-udp"
	InputWinevent  = "winevent-http"
	InputNDJSON    = "ndjson-http"
)

// Stack is a running all-in-one pipeline.
type Stack struct {
	opts       Options
	log        *slog.Logger
	reg        *prometheus.Registry
	nats       *natsserver.Server
	natsURL    string
	ch         *chlocal.Server
	chAddr     string
	collectors map[string]*collector.Collector // by OISC
	ncc        *ncc.NCC
	api        *api.Server
	demoNotify *notifyDemo
	ops        *telemetry.OpsServer
	key        string
	keys       []DemoKey
	demoStop   context.CancelFunc
	demoDone   chan struct{}
	stopOnce   sync.Once
	done       chan struct{} // closed by Stop
}

// OISCs the stack runs a collector for, with the collector's id.
var OISCs = map[string]string{"oisc-almaty": "almaty-1", "oisc-astana": "astana-1"}

// Start starts everything, in dependency order; on error it stops what it
// started.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.WorkDir == "" {
		return nil, errors.New("stack: WorkDir is required")
	}
	if o.Streams == nil {
		return nil, errors.New("stack: Streams is required")
	}
	if o.Database == "" {
		o.Database = "kuzet"
	}
	if o.NATSPort == 0 {
		o.NATSPort = -1
	}
	s = &Stack{opts: o, log: telemetry.OrDiscard(o.Logger), reg: telemetry.NewRegistry(), collectors: map[string]*collector.Collector{},
		done: make(chan struct{})}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			s.Stop(sctx)
		}
	}()
	if err := os.MkdirAll(o.WorkDir, 0o750); err != nil {
		return nil, err
	}
	// NATS.
	s.natsURL = o.NATSURL
	if s.natsURL == "" {
		// The file storage limit is what the streams reserve, with room
		// to spare, not three quarters of whatever the disk has free: the
		// demo starts the same on a small disk.
		s.nats, err = natsserver.Start(natsserver.Options{Port: o.NATSPort, StoreDir: filepath.Join(o.WorkDir, "nats"),
			MaxStore: bus.NCCReservedBytes + 1<<30, Logger: s.log.With("service", "nats")})
		if err != nil {
			return nil, err
		}
		s.natsURL = s.nats.ClientURL()
	}
	// ClickHouse.
	s.chAddr = o.ClickHouseAddr
	if s.chAddr == "" {
		s.ch, err = chlocal.Start(ctx, chlocal.Options{Dir: filepath.Join(o.WorkDir, "clickhouse"), Logger: s.log})
		if err != nil {
			return nil, err
		}
		s.chAddr = s.ch.Addr()
	}
	natsCfg := config.DefaultNATS()
	natsCfg.URL = s.natsURL
	chCfg := config.DefaultClickHouse()
	chCfg.Addr, chCfg.Database = []string{s.chAddr}, o.Database
	// The demo recipients of notifications, and the registry pointed at
	// them.
	s.demoNotify = &notifyDemo{log: s.log.With("service", "demo-recipient"), secrets: map[string][]byte{}, received: map[string]int{}}
	regFile, err := s.demoNotify.prepareRegistry(o.RegistryFile, o.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("stack: registry: %w", err)
	}
	if err := s.demoNotify.start(natsCfg); err != nil {
		return nil, fmt.Errorf("stack: notification receiver: %w", err)
	}
	// ncc first: it migrates the schema.
	nc := config.DefaultNCC()
	nc.NATS, nc.ClickHouse, nc.HTTP.Listen, nc.Log = natsCfg, chCfg, "", config.DefaultLog()
	nc.Store.Linger = 500 * time.Millisecond
	s.ncc, err = ncc.New(ncc.Options{Config: nc, Logger: s.log, Registerer: s.reg, Gatherer: s.reg})
	if err != nil {
		return nil, err
	}
	if err := s.ncc.Start(ctx); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, time.Minute, s.ncc.Ready); err != nil {
		return nil, fmt.Errorf("stack: ncc not ready: %w", err)
	}
	// Fresh keys in the store (the ncc migrated it), one per role; the
	// ncc-analyst key is also the collectors' ingest key.
	oiscs := slices.Sorted(maps.Keys(OISCs))
	if s.keys, err = mintKeys(ctx, chCfg, o.RegistryFile, oiscs); err != nil {
		return nil, err
	}
	s.key = s.keys[0].Key
	if err := os.WriteFile(filepath.Join(o.WorkDir, "dev-api-key"), []byte(s.key+"\n"), 0o600); err != nil {
		return nil, err
	}
	// Collectors.
	hash := access.HashKey(s.key)
	for oisc, id := range OISCs {
		cc := config.DefaultCollector()
		cc.ID, cc.OISC, cc.NATS, cc.HTTP.Listen = id, oisc, natsCfg, ""
		cc.DataDir = filepath.Join(o.WorkDir, "collector")
		cc.RegistryFile = regFile
		cc.Inputs = []config.Input{
			{Name: InputSyslogTCP, Type: config.InputTCP, Listen: "127.0.0.1:0", Pipeline: "syslog"},
			{Name: InputSyslogUDP, Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog"},
			{Name: InputWinevent, Type: config.InputHTTP, Listen: "127.0.0.1:0", Pipeline: "winevent", Keys: []string{hash}},
			{Name: InputNDJSON, Type: config.InputHTTP, Listen: "127.0.0.1:0", Pipeline: "ndjson", Keys: []string{hash}},
		}
		// Two collectors share the registry: their series differ by label.
		reg := prometheus.WrapRegistererWith(prometheus.Labels{"collector": id}, s.reg)
		c, err := collector.New(collector.Options{Config: cc, Streams: o.Streams, Logger: s.log, Registerer: reg, Gatherer: s.reg})
		if err != nil {
			return nil, err
		}
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		s.collectors[oisc] = c
	}
	// API.
	ac := config.DefaultAPI()
	ac.Listen, ac.ClickHouse, ac.NATS = o.APIListen, chCfg, natsCfg
	ac.HTTP.Listen = "" // the stack's ops server serves every role's metrics
	if ac.Listen == "" {
		ac.Listen = "127.0.0.1:8080"
	}
	ac.RegistryFile = o.RegistryFile
	ac.NATS.URL = s.natsURL // the audit heads bucket
	ac.Audit.Instance = "kuzet-run"
	s.api, err = api.New(api.Options{Config: ac, Logger: s.log, Registerer: s.reg, Gatherer: s.reg})
	if err != nil {
		return nil, err
	}
	if err := s.api.Start(ctx); err != nil {
		return nil, err
	}
	// One ops server for every in-process role.
	ready := telemetry.NewReadiness()
	s.ops, err = telemetry.StartOps(o.OpsListen, s.reg, ready, nil, s.log)
	if err != nil {
		return nil, err
	}
	go s.trackReady(ready)
	if o.DemoRate > 0 {
		s.startDemo(o.DemoRate)
	}
	return s, nil
}

func (s *Stack) trackReady(r *telemetry.Readiness) {
	for {
		r.Set("ncc", readyErr(s.ncc.Ready()))
		for oisc, c := range s.collectors {
			r.Set("collector "+oisc, readyErr(c.Ready()))
		}
		select {
		case <-s.done:
			return
		case <-time.After(time.Second):
		}
	}
}

func readyErr(ok bool) error {
	if ok {
		return nil
	}
	return errors.New("not ready")
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// APIAddr is the API's address.
func (s *Stack) APIAddr() string { return s.api.Addr() }

// APIKey is the development API key (role ncc-analyst; also accepted by the
// collectors' HTTP inputs).
func (s *Stack) APIKey() string { return s.key }

// Keys are the keys minted into the store at start, one per role.
func (s *Stack) Keys() []DemoKey { return s.keys }

// OpsAddr is the address of /metrics, /healthz and /readyz for all roles.
func (s *Stack) OpsAddr() string { return s.ops.Addr() }

// NATSURL is the NATS server URL in use.
func (s *Stack) NATSURL() string { return s.natsURL }

// ClickHouseAddr is the ClickHouse native address in use.
func (s *Stack) ClickHouseAddr() string { return s.chAddr }

// InputAddr returns the address of a collector input of the OISC.
func (s *Stack) InputAddr(oisc, input string) string {
	if c := s.collectors[oisc]; c != nil {
		return c.InputAddr(input)
	}
	return ""
}

// Banner describes the running stack for people.
func (s *Stack) Banner(w io.Writer) {
	fmt.Fprintf(w, "\nkuzet is running.\n\n")
	fmt.Fprintf(w, "  console         http://%s/   (sign in with one of the API keys below)\n", s.APIAddr())
	fmt.Fprintf(w, "  API             http://%s\n", s.APIAddr())
	fmt.Fprintf(w, "  API key (dev)   %s   (role ncc-analyst; also in %s)\n", s.key, filepath.Join(s.opts.WorkDir, "dev-api-key"))
	fmt.Fprintf(w, "  API keys        minted for this run (the last run's are revoked; shown once, the store keeps their hashes):\n")
	for _, k := range s.keys {
		scope := k.Scope
		if scope != "" {
			scope = " " + scope
		}
		fmt.Fprintf(w, "    %-26s %-15s%-22s %s\n", k.Name, k.Role, scope, k.Key)
	}
	fmt.Fprintf(w, "  audit log       kuzet audit verify -clickhouse %s -database %s -nats %s\n", s.chAddr, s.opts.Database, s.natsURL)
	fmt.Fprintf(w, "  metrics         http://%s/metrics   (/healthz, /readyz)\n", s.OpsAddr())
	fmt.Fprintf(w, "  NATS            %s\n", s.natsURL)
	fmt.Fprintf(w, "  ClickHouse      %s (native)\n", s.chAddr)
	for oisc, id := range OISCs {
		fmt.Fprintf(w, "  collector %-9s syslog tcp %s  udp %s  winevent http://%s/v1/ingest  ndjson http://%s/v1/ingest\n",
			id, s.InputAddr(oisc, InputSyslogTCP), s.InputAddr(oisc, InputSyslogUDP), s.InputAddr(oisc, InputWinevent), s.InputAddr(oisc, InputNDJSON))
	}
	if s.opts.DemoRate > 0 {
		fmt.Fprintf(w, "  demo feed       %d records/s\n", s.opts.DemoRate)
	}
	fmt.Fprintf(w, "  notifications   a demo recipient subscribes to kuzet.notify.*.* and acknowledges on %s\n", bus.NotifyAckSubject)
	if u := s.demoNotify.URL(); u != "" {
		fmt.Fprintf(w, "                  webhook receiver %s (signatures checked) for the registry's loopback webhooks\n", u)
	}
	fmt.Fprintf(w, "\nTry:\n  curl -H 'Authorization: Bearer %s' 'http://%s/api/v1/events?limit=5'\n\nCtrl-C stops everything.\n\n", s.key, s.APIAddr())
}

// Stop stops everything in order within ctx. Idempotent.
func (s *Stack) Stop(ctx context.Context) {
	s.stopOnce.Do(func() {
		close(s.done)
		if s.demoStop != nil {
			s.demoStop()
			<-s.demoDone
		}
		var wg sync.WaitGroup
		for oisc, c := range s.collectors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Stop(ctx); err != nil {
					s.log.Warn("collector stop", "oisc", oisc, "err", err)
				}
			}()
		}
		wg.Wait()
		if s.ncc != nil {
			if err := s.ncc.Stop(ctx); err != nil {
				s.log.Warn("ncc stop", "err", err)
			}
		}
		s.demoNotify.stop(ctx)
		if s.api != nil {
			_ = s.api.Stop(ctx)
		}
		_ = s.ops.Stop(ctx)
		if s.ch != nil {
			_ = s.ch.Stop(ctx)
		}
		if s.nats != nil {
			s.nats.Shutdown()
		}
	})
}

// Run starts the stack, prints the banner to w, and stops it when ctx ends.
func Run(ctx context.Context, o Options, w io.Writer) error {
	s, err := Start(ctx, o)
	if err != nil {
		return err
	}
	s.Banner(w)
	<-ctx.Done()
	fmt.Fprintln(w, "stopping...")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 45*time.Second)
	defer cancel()
	s.Stop(sctx)
	return nil
}
