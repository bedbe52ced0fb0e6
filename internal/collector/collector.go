// Package collector is the kuzet-collector role: it accepts raw records on
// its inputs (syslog over UDP, TCP and TLS, HTTP NDJSON), normalises them
// with the declarative pipelines, gives each event its identity (UUIDv7 id
// and received_at, once), enriches it from the registry of critical objects
// scoped to its OISC, packs events into batch envelopes and publishes them to
// JetStream on kuzet.events.<oisc>.<collector>.
//
// A record that fails parsing is never silently lost: it is counted in
// kuzet_collector_records_rejected_total{reason} and kept as an event of kind
// pipeline_error carrying the raw record and the reason (quarantine), unless
// the pipeline dropped it on purpose.
//
// An event is accepted when it is written to the collector's spool (a
// write-ahead log under data_dir). Batches are sealed in the spool under
// their batch id and confirmed once JetStream stored them; after a crash the
// collector republishes what the spool holds unconfirmed, with the same
// event ids and batch ids, before it accepts anything new.
//
// Shutdown order (Stop), the reverse of Start, within stop_timeout: not
// ready; close the inputs (each flushes its pipeline streams); end intake;
// stop the linger ticker and seal the open batch; let the publishers drain
// the queue; stop the registry watch and site metrics; close NATS and the
// embedded site server; close the journal and the spool; stop the ops
// server.
//
// The files: collector.go is the role's wiring (Options, New, Start, Stop,
// Run); input.go declares the records handler the listeners feed, and
// udp.go, stream.go (TCP, TLS), http.go and file.go are the listeners;
// source.go is the handler (normalise, stamp, enrich, batch, quarantine);
// batcher.go, publish.go, registry.go, journal.go and seq.go the rest.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/lifecycle"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/spool"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// Stream normalises the records of one source (one connection, one file,
// one UDP input) into events. Implementations may hold records back (auditd
// joins lines) until Flush.
type Stream interface {
	Push(rec ingest.Record, emit func(*event.Event) error) error
	Flush(emit func(*event.Event) error) error
}

// StreamFactory opens a Stream of the named pipeline for one source, with
// the zones of times that carry none (the input's or the collector's, and
// the device's from the registry) and the record size limit.
type StreamFactory func(pipeline string, opts pipeline.StreamOptions) (Stream, error)

// Options configure a Collector.
type Options struct {
	Config config.Collector
	// Streams opens normalisation streams; required.
	Streams    StreamFactory
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Gatherer serves /metrics; defaults to Registerer if it is a Gatherer.
	Gatherer prometheus.Gatherer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Collector is a running collector. Create with New, then Start and Stop, or
// Run.
type Collector struct {
	opts  Options
	cfg   config.Collector
	log   *slog.Logger
	m     *metrics
	now   func() time.Time
	ready *telemetry.Readiness

	siteSrv *natsserver.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	pub     *bus.Publisher
	subject string
	matcher atomic.Pointer[registry.Matcher]
	spool   *spool.Spool
	journal *journal
	batch   *batcher
	inputs  []input
	ops     *telemetry.OpsServer

	// inFlight counts the batches publishers hold (for the stop report).
	inFlight atomic.Int64
	// skewLogged is when clock skew was last logged, per input (skew.go).
	skewLogged sync.Map
	// cleanups undo Start in reverse: each step is pushed as soon as what
	// it releases exists, so Stop after a failed Start releases exactly
	// what was started. Goroutines get their context from Start and a
	// cancel step here; the collector keeps no context.
	cleanups lifecycle.Stack
}

// DefaultOptions returns options with the default configuration
// (config.DefaultCollector, which still needs an id, an OISC and inputs)
// and the real clock. Streams must be set; DefaultStreams gives the
// shipped pipelines.
func DefaultOptions() Options {
	return Options{Config: config.DefaultCollector(), Now: time.Now}
}

// validate checks the options and fills in the defaults of the optional
// ones: a discarding logger, a private registry, the real clock.
func (o *Options) validate() error {
	var errs []error
	if err := o.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Streams == nil {
		errs = append(errs, errors.New("collector: Options.Streams is required"))
	}
	o.Registerer, o.Gatherer = telemetry.Registries(o.Registerer, o.Gatherer)
	if o.Now == nil {
		o.Now = time.Now
	}
	return errors.Join(errs...)
}

// New validates the options. It does no I/O.
func New(opts Options) (*Collector, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Collector{
		opts: opts, cfg: opts.Config, log: telemetry.OrDiscard(opts.Logger).With("role", "collector", "collector", opts.Config.ID),
		m: newMetrics(opts.Registerer), now: opts.Now,
		ready:   telemetry.NewReadiness("nats", "registry", "inputs"),
		subject: bus.EventsSubject(opts.Config.OISC, opts.Config.ID),
	}
	c.matcher.Store(registry.NewMatcher(&registry.Registry{}, c.cfg.OISC))
	return c, nil
}

// Start connects to NATS, prepares the streams, loads the registry, and
// starts the publishers and the inputs. On error everything started is
// stopped again.
func (c *Collector) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
		}
	}()
	// Goroutines started here outlive Start: they run on contexts of their
	// own, ended by their cleanup step.
	bg := context.WithoutCancel(ctx)
	c.cleanups.Push("log", func(context.Context) error { c.log.Info("collector stopped"); return nil })
	c.ops, err = telemetry.StartOps(c.cfg.HTTP.Listen, c.opts.Gatherer, c.ready, telemetry.OpsMux(c.cfg.HTTP), c.log)
	if err != nil {
		return fmt.Errorf("collector: ops listener: %w", err)
	}
	c.cleanups.Push("ops server", c.ops.Stop)
	seq, err := openSeq(filepath.Join(c.cfg.DataDir, c.cfg.ID))
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	c.spool, err = spool.Open(spool.Options{Dir: filepath.Join(c.cfg.DataDir, c.cfg.ID, "spool"), Fsync: c.cfg.SpoolFsync})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	c.cleanups.Push("spool", func(context.Context) error { return c.spool.Close() })
	if c.cfg.Journal {
		if c.journal, err = openJournal(filepath.Join(c.cfg.DataDir, c.cfg.ID, "accepted.ids")); err != nil {
			return fmt.Errorf("collector: journal: %w", err)
		}
		c.cleanups.Push("journal", func(context.Context) error { return c.journal.close() })
	}
	natsCfg := c.cfg.NATS
	site := c.cfg.Site
	if site.Domain != "" && site.Embedded {
		c.siteSrv, err = natsserver.Start(natsserver.Options{
			Name: "site-" + c.cfg.ID, Port: -1, StoreDir: filepath.Join(c.cfg.DataDir, c.cfg.ID, "nats"), Domain: site.Domain,
			LeafRemotes: []string{withUser(site.Hub, site.HubUser, site.HubPassword.Reveal())}, LeafDenyExports: []string{bus.EventsPrefix + ".>"}, Logger: c.log.With("component", "site-nats"),
		})
		if err != nil {
			return fmt.Errorf("collector: site server: %w", err)
		}
		c.cleanups.Push("site server", func(context.Context) error { c.siteSrv.Shutdown(); return nil })
		natsCfg.URL = c.siteSrv.ClientURL()
	}
	c.nc, err = bus.Connect(natsCfg, "kuzet-collector "+c.cfg.ID, c.log)
	if err != nil {
		return err
	}
	c.cleanups.Push("nats", func(context.Context) error { c.nc.Close(); return nil })
	c.js, err = bus.JetStream(c.nc, c.cfg.NATS.Domain)
	if err != nil {
		return err
	}
	c.js = bus.Placed(c.js, c.cfg.NATS)
	regJS := c.js
	if site.Domain != "" {
		if err := bus.EnsureSiteStream(ctx, c.js, bus.SiteOptions{Site: site.Domain, OISC: c.cfg.OISC, MaxBytes: site.MaxBytes,
			MaxAge: site.MaxAge, Overflow: site.Overflow}); err != nil {
			return err
		}
		if regJS, err = bus.JetStream(c.nc, site.HubDomain); err != nil {
			return err
		}
		c.goUntilStop("site metrics", bg, c.watchSite)
	} else {
		so := bus.StreamOptionsFor(c.cfg.NATS)
		if err := bus.EnsureStreams(ctx, c.js, so); err != nil {
			return err
		}
	}
	c.ready.Set("nats", nil)
	if err := c.startRegistry(ctx, bg, regJS); err != nil {
		return err
	}
	c.pub = bus.NewPublisher(c.js, c.log)
	c.pub.OnRetry = func(error) { c.m.publishErrors.Inc() }
	c.batch = &batcher{
		maxEvents: c.cfg.Batch.MaxEvents, maxBytes: c.cfg.Batch.MaxBytes, linger: c.cfg.Batch.Linger,
		collector: c.cfg.ID, oisc: c.cfg.OISC, seq: seq, spool: c.spool, journal: c.journal,
		out: make(chan *pending, c.cfg.MaxInFlight), now: c.now, m: c.m,
	}
	c.startPublishers(bg)
	c.startBatcher(bg)
	if rec := c.spool.Recovered(); len(rec) > 0 {
		n, err := c.batch.requeue(ctx, rec)
		if err != nil {
			return fmt.Errorf("collector: republish spooled batches: %w", err)
		}
		c.m.recovered.Add(float64(n))
		c.log.Info("republishing events accepted before a restart", "batches", len(rec), "events", n)
	}
	// intake is the context of the sources: a record blocked on a full
	// publish queue gives up when it ends, after the inputs are closed.
	intake, stopIntake := context.WithCancel(bg)
	c.cleanups.Push("intake", func(context.Context) error { stopIntake(); return nil })
	for _, ic := range c.cfg.Inputs {
		in, err := c.startInput(intake, ic)
		if err != nil {
			return fmt.Errorf("collector: input %s: %w", ic.Name, err)
		}
		c.cleanups.Push("input "+ic.Name, in.close)
		c.inputs = append(c.inputs, in)
		c.log.Info("input listening", "input", ic.Name, "type", ic.Type, "addr", in.addr(), "pipeline", ic.Pipeline)
	}
	c.ready.Set("inputs", nil)
	return nil
}

// goUntilStop runs fn in a goroutine on a context of its own, and pushes
// the cleanup that ends that context and waits for fn to return.
func (c *Collector) goUntilStop(name string, parent context.Context, fn func(context.Context)) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	c.cleanups.Push(name, func(sctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-sctx.Done():
			return sctx.Err()
		}
	})
}

// startPublishers starts max_in_flight publishers on the batch queue. Their
// cleanup lets them drain the queue until the stop deadline, then cancels
// the publishes still running: those batches stay in the spool.
func (c *Collector) startPublishers(bg context.Context) {
	ctx, cancel := context.WithCancel(bg)
	var pubs sync.WaitGroup
	for range c.cfg.MaxInFlight {
		pubs.Go(func() { c.publishLoop(ctx) })
	}
	c.cleanups.Push("publishers", func(sctx context.Context) error {
		drained := make(chan struct{})
		go func() { pubs.Wait(); close(drained) }()
		var err error
		select {
		case <-drained:
		case <-sctx.Done():
			err = fmt.Errorf("stop timeout with %d batches unpublished (kept in the spool for the next start)",
				len(c.batch.out)+int(c.inFlight.Load()))
		}
		cancel()
		<-drained
		return err
	})
}

// startBatcher starts the linger ticker. Its cleanup stops it, seals the
// open batch and closes the queue, so the publishers end once it is empty.
func (c *Collector) startBatcher(bg context.Context) {
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); c.batch.run(ctx) }()
	c.cleanups.Push("batcher", func(sctx context.Context) error {
		cancel()
		<-done
		err := c.batch.flush(sctx)
		close(c.batch.out)
		return err
	})
}

// startInput starts the listener of an input; its sources open on ctx.
func (c *Collector) startInput(ctx context.Context, ic config.Input) (input, error) {
	l := listener{cfg: ic, log: c.log, m: c.m, now: c.now, open: func(ctx context.Context) (records, error) {
		s, err := c.newSource(ctx, ic)
		if err != nil {
			return nil, err
		}
		return s, nil
	}}
	switch ic.Type {
	case config.InputUDP:
		return startUDP(ctx, l)
	case config.InputTCP, config.InputTLS:
		return startStream(ctx, l)
	case config.InputHTTP:
		return startHTTP(l, c.batch.full)
	case config.InputFile:
		open := func(ctx context.Context) (fileRecords, error) {
			s, err := c.newSource(ctx, ic)
			if err != nil {
				return nil, err
			}
			return s, nil
		}
		return startFile(ctx, l, open, c.spool.Marks(), c.spool.ForgetMark)
	}
	return nil, fmt.Errorf("input type %q is not supported yet", ic.Type)
}

// Ready reports whether the collector is ready for traffic.
func (c *Collector) Ready() bool { ok, _ := c.ready.Ready(); return ok }

// OpsAddr is the address of /metrics, /healthz and /readyz.
func (c *Collector) OpsAddr() string { return c.ops.Addr() }

// InputAddr returns the listening address of the named input.
func (c *Collector) InputAddr(name string) string {
	for _, in := range c.inputs {
		if in.name() == name {
			return in.addr()
		}
	}
	return ""
}

// Stop shuts down in order (see the package doc): it marks the collector
// not ready, then runs the cleanups of Start in reverse. It ends within the
// earlier of ctx's deadline and stop_timeout, also when ctx never ends;
// cleanups still running then are abandoned and named in the error.
// Records already taken off a transport are published unless the deadline
// comes first; batches not published stay in the spool for the next start.
// Idempotent; safe after a failed Start.
func (c *Collector) Stop(ctx context.Context) error {
	c.ready.Set("inputs", errors.New("stopping"))
	return c.cleanups.Run(ctx, c.cfg.StopTimeout)
}

// Run starts the collector and stops it when ctx ends, within the
// configured stop timeout.
func (c *Collector) Run(ctx context.Context) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.StopTimeout)
	defer cancel()
	return c.Stop(sctx)
}

// withUser puts a user and password into a leaf URL.
func withUser(hub, user, password string) string {
	if user == "" {
		return hub
	}
	u, err := url.Parse(hub)
	if err != nil {
		return hub // natsserver reports the bad URL
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}
