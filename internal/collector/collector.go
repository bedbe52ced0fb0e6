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
// Shutdown order (Stop): not ready, close inputs, flush pipeline streams,
// seal the open batch, let the publishers drain the queue within the stop
// timeout, close NATS, stop the ops server.
package collector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/failpoint"
	"github.com/kuzet-kz/kuzet/internal/ingest"
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

// StreamFactory opens a Stream of the named pipeline, with the zone for
// zone-less timestamps and the record size limit.
type StreamFactory func(pipeline string, loc *time.Location, maxRecord int) (Stream, error)

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

	bgCtx     context.Context // registry watch, linger ticker
	bgCancel  context.CancelFunc
	pubCtx    context.Context // publishers; cancelled last, at the stop deadline
	pubCancel context.CancelFunc
	bg        sync.WaitGroup
	pubs      sync.WaitGroup
	stopOnce  sync.Once
	stopErr   error
}

// input is one running input.
type input interface {
	name() string
	addr() string
	// close stops accepting and waits until every record taken off the
	// transport has been handed to the collector.
	close(ctx context.Context) error
}

// New validates the options. It does no I/O.
func New(opts Options) (*Collector, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Streams == nil {
		return nil, errors.New("collector: Options.Streams is required")
	}
	opts.Registerer, opts.Gatherer = telemetry.Registries(opts.Registerer, opts.Gatherer)
	if opts.Now == nil {
		opts.Now = time.Now
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
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = c.Stop(sctx)
		}
	}()
	c.bgCtx, c.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	c.pubCtx, c.pubCancel = context.WithCancel(context.WithoutCancel(ctx))
	c.ops, err = telemetry.StartOps(c.cfg.HTTP.Listen, c.opts.Gatherer, c.ready, nil, c.log)
	if err != nil {
		return fmt.Errorf("collector: ops listener: %w", err)
	}
	seq, err := openSeq(filepath.Join(c.cfg.DataDir, c.cfg.ID))
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	c.spool, err = spool.Open(spool.Options{Dir: filepath.Join(c.cfg.DataDir, c.cfg.ID, "spool"), Fsync: c.cfg.SpoolFsync})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if c.cfg.Journal {
		if c.journal, err = openJournal(filepath.Join(c.cfg.DataDir, c.cfg.ID, "accepted.ids")); err != nil {
			return fmt.Errorf("collector: journal: %w", err)
		}
	}
	natsCfg := c.cfg.NATS
	site := c.cfg.Site
	if site.Domain != "" && site.Embedded {
		c.siteSrv, err = natsserver.Start(natsserver.Options{
			Name: "site-" + c.cfg.ID, Port: -1, StoreDir: filepath.Join(c.cfg.DataDir, c.cfg.ID, "nats"), Domain: site.Domain,
			LeafRemotes: []string{site.Hub}, LeafDenyExports: []string{bus.EventsPrefix + ".>"}, Logger: c.log.With("component", "site-nats"),
		})
		if err != nil {
			return fmt.Errorf("collector: site server: %w", err)
		}
		natsCfg.URL = c.siteSrv.ClientURL()
	}
	c.nc, err = bus.Connect(natsCfg, "kuzet-collector "+c.cfg.ID, c.log)
	if err != nil {
		return err
	}
	c.js, err = bus.JetStream(c.nc, c.cfg.NATS.Domain)
	if err != nil {
		return err
	}
	regJS := c.js
	if site.Domain != "" {
		if err := bus.EnsureSiteStream(ctx, c.js, bus.SiteOptions{Site: site.Domain, MaxBytes: site.MaxBytes,
			MaxAge: site.MaxAge, Overflow: site.Overflow}); err != nil {
			return err
		}
		if regJS, err = bus.JetStream(c.nc, site.HubDomain); err != nil {
			return err
		}
		c.bg.Add(1)
		go func() { defer c.bg.Done(); c.watchSite(c.bgCtx) }()
	} else {
		so := bus.DefaultStreamOptions()
		so.Replicas = c.cfg.NATS.Replicas
		if err := bus.EnsureStreams(ctx, c.js, so); err != nil {
			return err
		}
	}
	c.ready.Set("nats", nil)
	if err := c.startRegistry(ctx, regJS); err != nil {
		return err
	}
	c.pub = bus.NewPublisher(c.js, c.log)
	c.pub.OnRetry = func(error) { c.m.publishErrors.Inc() }
	c.batch = &batcher{
		maxEvents: c.cfg.Batch.MaxEvents, maxBytes: c.cfg.Batch.MaxBytes, linger: c.cfg.Batch.Linger,
		collector: c.cfg.ID, oisc: c.cfg.OISC, seq: seq, spool: c.spool, journal: c.journal,
		out: make(chan *pending, c.cfg.MaxInFlight), now: c.now, m: c.m,
	}
	c.bg.Add(1)
	go func() { defer c.bg.Done(); c.batch.run(c.bgCtx) }()
	for i := 0; i < c.cfg.MaxInFlight; i++ {
		c.pubs.Add(1)
		go c.publishLoop()
	}
	if rec := c.spool.Recovered(); len(rec) > 0 {
		n, err := c.batch.requeue(ctx, rec)
		if err != nil {
			return fmt.Errorf("collector: republish spooled batches: %w", err)
		}
		c.m.recovered.Add(float64(n))
		c.log.Info("republishing events accepted before a restart", "batches", len(rec), "events", n)
	}
	for _, ic := range c.cfg.Inputs {
		in, err := c.startInput(ic)
		if err != nil {
			return fmt.Errorf("collector: input %s: %w", ic.Name, err)
		}
		c.inputs = append(c.inputs, in)
		c.log.Info("input listening", "input", ic.Name, "type", ic.Type, "addr", in.addr(), "pipeline", ic.Pipeline)
	}
	c.ready.Set("inputs", nil)
	return nil
}

// startRegistry applies the cached snapshot, imports the configured registry
// file, if any, and watches the KV bucket (on the hub, for a site); it waits
// (bounded) for the first snapshot. Each snapshot is cached under data_dir,
// so a collector that starts while the NCC is unreachable still enriches.
func (c *Collector) startRegistry(ctx context.Context, js jetstream.JetStream) error {
	cache := filepath.Join(c.cfg.DataDir, c.cfg.ID, "registry.json")
	if reg, err := loadRegistryCache(cache); err == nil {
		c.applyRegistry(reg, "cache")
	}
	first := make(chan struct{})
	var once sync.Once
	apply := func(reg *registry.Registry) {
		c.applyRegistry(reg, "bucket")
		if err := saveRegistryCache(cache, reg); err != nil {
			c.log.Warn("registry cache not written", "err", err)
		}
		once.Do(func() { close(first) })
	}
	if c.cfg.RegistryFile != "" {
		reg, err := registry.LoadFile(c.cfg.RegistryFile)
		if err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		kv, err := bus.OpenRegistryKV(ctx, js, c.cfg.NATS.Replicas, c.log)
		if err != nil {
			return err
		}
		n, err := kv.Import(ctx, reg)
		if err != nil {
			return err
		}
		c.log.Info("registry imported", "file", c.cfg.RegistryFile, "changed_keys", n)
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		for c.bgCtx.Err() == nil {
			octx, cancel := context.WithTimeout(c.bgCtx, 10*time.Second)
			kv, err := bus.OpenRegistryKV(octx, js, c.cfg.NATS.Replicas, c.log)
			cancel()
			if err == nil {
				err = kv.Watch(c.bgCtx, apply)
			}
			if err != nil && c.bgCtx.Err() == nil {
				c.log.Warn("registry watch ended, retrying", "err", err)
				select {
				case <-c.bgCtx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(15 * time.Second):
		c.log.Warn("no registry snapshot yet; events are marked unknown until one arrives")
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// applyRegistry switches enrichment to a registry snapshot.
func (c *Collector) applyRegistry(reg *registry.Registry, from string) {
	c.matcher.Store(registry.NewMatcher(reg, c.cfg.OISC))
	n := 0
	for _, o := range reg.Objects {
		if o.OISC == c.cfg.OISC {
			n++
		}
	}
	c.m.objects.Set(float64(n))
	c.m.regUpdates.Inc()
	c.ready.Set("registry", nil)
	c.log.Info("registry snapshot applied", "objects", n, "from", from)
}

func loadRegistryCache(path string) (*registry.Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reg registry.Registry
	if err := json.Unmarshal(data, &reg); err != nil {
		return nil, err
	}
	if err := reg.Validate(); err != nil {
		return nil, err
	}
	return &reg, nil
}

func saveRegistryCache(path string, reg *registry.Registry) error {
	data, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// watchSite exports the site buffer's backlog as metrics.
func (c *Collector) watchSite(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		b, err := bus.SiteState(sctx, c.js)
		cancel()
		if err != nil {
			continue
		}
		c.m.siteBytes.Set(float64(b.Bytes))
		c.m.siteMsgs.Set(float64(b.Msgs))
		age := 0.0
		if !b.Oldest.IsZero() {
			age = c.now().Sub(b.Oldest).Seconds()
		}
		c.m.siteAge.Set(age)
		// A work queue removes a message when the hub has it; messages
		// removed beyond the source consumer's ack floor were dropped by
		// the drop_oldest policy.
		if b.FirstSeq > 0 && b.FirstSeq-1 > b.AckFloor && b.FirstSeq-1-b.AckFloor > dropped {
			c.m.siteDropped.Add(float64(b.FirstSeq - 1 - b.AckFloor - dropped))
			dropped = b.FirstSeq - 1 - b.AckFloor
		}
	}
}

func (c *Collector) publishLoop() {
	defer c.pubs.Done()
	for {
		select {
		case <-c.pubCtx.Done():
			return
		case p, ok := <-c.batch.out:
			if !ok {
				return
			}
			b := p.batch
			c.m.queued.Set(float64(len(c.batch.out)))
			c.m.inFlight.Inc()
			start := time.Now()
			failpoint.Hit("collector-before-publish")
			dup, err := c.pub.Publish(c.pubCtx, c.subject, b)
			failpoint.Hit("collector-after-publish") // stored by JetStream, not confirmed in the spool
			c.m.inFlight.Dec()
			if err != nil {
				c.log.Warn("batch not published at shutdown; it stays in the spool for the next start", "batch", b.ID, "events", len(b.Events), "err", err)
				continue
			}
			if err := c.spool.Confirm(p.start); err != nil {
				c.log.Error("spool confirm", "batch", b.ID, "err", err)
			}
			spooled, _ := c.spool.Pending()
			c.m.spooled.Set(float64(spooled))
			c.m.publishTime.Observe(time.Since(start).Seconds())
			c.m.batches.Inc()
			c.m.published.Add(float64(len(b.Events)))
			if dup {
				c.m.duplicates.Inc()
			}
		}
	}
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

// Stop shuts down in order (see the package doc) within ctx. Records
// already taken off a transport are published unless ctx ends first.
// Idempotent.
func (c *Collector) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *Collector) stop(ctx context.Context) error {
	var errs []error
	c.ready.Set("inputs", errors.New("stopping"))
	for _, in := range c.inputs {
		if err := in.close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("input %s: %w", in.name(), err))
		}
	}
	if c.bgCancel != nil {
		c.bgCancel()
	}
	c.bg.Wait()
	if c.batch != nil {
		if err := c.batch.flush(ctx); err != nil {
			errs = append(errs, err)
		}
		close(c.batch.out)
	}
	drained := make(chan struct{})
	go func() { c.pubs.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		lost := 0
		if c.batch != nil {
			lost = len(c.batch.out)
		}
		errs = append(errs, fmt.Errorf("collector: stop timeout with %d batches unpublished", lost))
	}
	if c.pubCancel != nil {
		c.pubCancel()
	}
	c.pubs.Wait()
	if c.nc != nil {
		c.nc.Close()
	}
	if c.siteSrv != nil {
		c.siteSrv.Shutdown()
	}
	if c.spool != nil {
		errs = append(errs, c.spool.Close())
	}
	errs = append(errs, c.journal.close())
	if err := c.ops.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	c.log.Info("collector stopped")
	return errors.Join(errs...)
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

// source is the per-source state of an input: its normalisation stream and
// the emit function that stamps, enriches and batches events.
type source struct {
	c      *Collector
	input  config.Input
	stream Stream
	emit   func(*event.Event) error
	ctx    context.Context
	// markKey and markValue, when set, are written to the spool with each
	// event accepted (a file input's position).
	markKey, markValue string
}

func (c *Collector) newSource(ctx context.Context, in config.Input) (*source, error) {
	zone := in.Zone
	if zone == "" {
		zone = c.cfg.Zone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, err
	}
	maxRec := in.MaxRecord
	if maxRec == 0 {
		maxRec = ingest.DefaultMaxRecord
	}
	st, err := c.opts.Streams(in.Pipeline, loc, maxRec)
	if err != nil {
		return nil, err
	}
	s := &source{c: c, input: in, stream: st, ctx: ctx}
	s.emit = s.accept
	return s, nil
}

// accept stamps identity, enriches and batches one normalised event.
func (s *source) accept(ev *event.Event) error {
	c := s.c
	if err := event.Stamp(ev, c.now(), c.cfg.ID, c.cfg.OISC, s.input.Name); err != nil {
		return err
	}
	c.matcher.Load().Enrich(ev)
	if ev.Kuzet.OriginalB64 != "" && !slices.Contains(ev.Tags, TagInvalidUTF8) {
		ev.Tags = append(ev.Tags, TagInvalidUTF8)
	}
	if err := ev.Validate(); err != nil {
		return &ingest.Error{Reason: ingest.ReasonInvalid, Offset: -1, Err: err}
	}
	doc, err := event.Marshal(ev)
	if err != nil {
		return &ingest.Error{Reason: ingest.ReasonInvalid, Offset: -1, Err: err}
	}
	if err := c.batch.addMarked(s.ctx, doc, s.markKey, s.markValue); err != nil {
		return err
	}
	c.m.accepted.WithLabelValues(s.input.Name, ev.Kuzet.Asset).Inc()
	if ev.Kuzet.OriginalB64 != "" {
		c.m.invalidUTF8.WithLabelValues(s.input.Name).Inc()
	}
	return nil
}

// TagInvalidUTF8 marks an event whose record was not valid UTF-8. The
// policy is the same for every input and pipeline: the record is kept, its
// invalid bytes are replaced by U+FFFD in event.original and the parsed
// fields, its exact bytes are in kuzet.original_b64, and it is counted in
// kuzet_collector_records_invalid_utf8_total.
const TagInvalidUTF8 = "invalid_utf8"

// handle normalises one record; a rejected record is counted, quarantined
// and returned as rejected. err is set only when the collector cannot take
// more (stopping).
func (s *source) handle(rec ingest.Record) (rejected *ingest.Error, err error) {
	s.c.m.received.WithLabelValues(s.input.Name).Inc()
	perr := s.stream.Push(rec, s.emit)
	if perr == nil {
		return nil, nil
	}
	var ie *ingest.Error
	if !errors.As(perr, &ie) {
		return nil, perr // batching failed: ctx ended
	}
	s.reject(rec, ie)
	return ie, nil
}

// reject counts a rejected record and keeps it as a pipeline_error event.
func (s *source) reject(rec ingest.Record, ie *ingest.Error) {
	c := s.c
	c.m.rejected.WithLabelValues(s.input.Name, ie.Reason).Inc()
	if ie.Reason == ingest.ReasonDropped {
		return
	}
	c.log.Debug("record rejected", "input", s.input.Name, "peer", rec.Peer, "reason", ie.Reason, "err", ie.Err)
	ev := quarantineEvent(rec, ie, s.input.Pipeline)
	if err := s.accept(ev); err != nil {
		c.log.Warn("quarantine event not accepted", "input", s.input.Name, "err", err)
		return
	}
	c.m.quarantined.WithLabelValues(s.input.Name, ie.Reason).Inc()
}

// quarantineMax bounds how much of a rejected record is kept.
const quarantineMax = 8 << 10

// quarantineEvent wraps a rejected record: kind pipeline_error, the reason
// in message and labels, the record (its first 8 KiB) in event.original;
// when it is not UTF-8, invalid bytes replaced there and the exact bytes
// in kuzet.original_b64.
func quarantineEvent(rec ingest.Record, ie *ingest.Error, pipelineName string) *event.Event {
	ev := pipeline.NewEvent(rec, pipelineName)
	ev.Timestamp = ev.Kuzet.ReceivedAt
	ev.Event.Kind = "pipeline_error"
	ev.Message = fmt.Sprintf("rejected by pipeline %s: %v", pipelineName, ie)
	ev.Tags = []string{"quarantine"}
	ev.Labels = map[string]string{"reject_reason": ie.Reason, "record_bytes": fmt.Sprint(len(rec.Data))}
	data := rec.Data
	valid := utf8.Valid(data)
	if len(data) > quarantineMax {
		n := quarantineMax
		for valid && n > 0 && !utf8.RuneStart(data[n]) {
			n-- // do not cut a valid record inside a character
		}
		data = data[:n]
		ev.Labels["truncated"] = "true"
	}
	if valid {
		ev.Event.Original = string(data)
	} else {
		ev.Event.Original = strings.ToValidUTF8(string(data), "\uFFFD")
		ev.Kuzet.OriginalB64 = base64.StdEncoding.EncodeToString(data)
	}
	return ev
}

// flush flushes the source's stream (records held back by a joining
// pipeline), quarantining what cannot be completed.
func (s *source) flush() {
	if err := s.stream.Flush(s.emit); err != nil {
		var ie *ingest.Error
		if errors.As(err, &ie) {
			s.c.m.rejected.WithLabelValues(s.input.Name, ie.Reason).Inc()
		}
	}
}
