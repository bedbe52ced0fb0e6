// Package ncc is the kuzet-ncc role, the national aggregator: it consumes
// batch envelopes from the KUZET_EVENTS stream with a durable pull consumer
// and writes their events to ClickHouse.
//
// # Stages
//
// One envelope goes through fetch (bus.Consumer.Fetch), decodeBatch
// (envelope to events and rows), detect (events to alerts) and the writer
// (rows and alerts to ClickHouse, alerts to JetStream, then the acks).
//
// # Delivery
//
// Messages are acked only after the INSERT that holds their events has
// succeeded (ack after durable effect). The loop fetches envelopes (at most
// consumer.fetch_max_bytes per fetch) while the pending rows are fewer than
// store.max_rows (at most consumer.max_ack_pending messages), decodes them
// and runs detection on every core, and hands the batch to the writer when
// the rows reach store.max_rows, its envelopes store.max_batch_bytes, or the
// oldest has waited store.linger. It fetches only while a whole fetch fits
// under store.max_inflight_bytes with the two batches it holds; an acked
// batch is cleared before reuse, so nothing held refers to stored events
// (README, "Memory"). The writer inserts
// and acks one batch while the loop fills the next; at most two batches are
// held, so the loop stops fetching while a flush fails. While
// ClickHouse is unavailable it retries with exponential backoff (capped at
// store.max_backoff), sends InProgress on the held messages so JetStream does
// not redeliver them, and reports not ready on /readyz and
// kuzet_ncc_store_up 0. A redelivered message (after a crash between the
// INSERT and the ack) writes the same event ids again, which the events
// table absorbs (ReplacingMergeTree by id; queries read FINAL).
//
// An envelope that cannot be decoded is counted in
// kuzet_ncc_rejected_total{reason} and terminated (no redelivery); it stays in
// the stream for inspection until the stream's limits remove it.
package ncc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/correlation"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/failpoint"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/lifecycle"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// Options configure an NCC: its configuration and what it is given (a
// logger, metric registries, a clock). Zero fields take the defaults of
// withDefaults.
type Options struct {
	Config config.NCC
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registerer and Gatherer default to a new registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now defaults to time.Now.
	Now func() time.Time
}

// Validate reports what is wrong with the options, naming the field.
func (o *Options) Validate() error { return o.Config.Validate() }

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	o.Registerer, o.Gatherer = telemetry.Registries(o.Registerer, o.Gatherer)
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Logger = telemetry.OrDiscard(o.Logger)
	return o
}

// NCC is a running aggregator.
type NCC struct {
	opts  Options
	cfg   config.NCC
	log   *slog.Logger
	m     *metrics
	now   func() time.Time
	ready *telemetry.Readiness

	st     *store.Store
	client *bus.Client
	cons   *bus.Consumer
	// sources tells which site a sourced envelope came from (set at
	// Start, read only after).
	sources  bus.SourceIndex
	alertPub *bus.AlertPublisher
	ops      *telemetry.OpsServer

	rules atomic.Pointer[ruleSet]
	// correlation is the correlation stage (nil when disabled or when the
	// rule set has no correlation).
	correlation *correlation.Stage
	// incidents is the incident stage (nil when disabled).
	incidents *grouping.Stage

	// cleanup releases, last first, what Start acquired; Stop runs it.
	cleanup  lifecycle.Stack
	cancel   context.CancelFunc
	loopDone chan struct{}
	bg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
	// flushDeadline (Unix nanoseconds) bounds the final flush; Stop sets
	// it before it ends the loop. unacked counts the messages the final
	// flush left unacked.
	flushDeadline atomic.Int64
	unacked       atomic.Int64

	// writing and filling are the bytes of the batch being written and of
	// the one being filled (kuzet_ncc_inflight_bytes); freed is signalled
	// when the writer lets a batch go.
	writing, filling atomic.Int64
	freed            chan struct{}

	// ackHook, for tests, may skip the acks of a flush (a lost ack).
	ackHook func(msgs []bus.Delivery) bool
	// detectHook, for tests, runs before detection on each event.
	detectHook func(*event.Event)
}

// New validates the options. It does no I/O.
func New(opts Options) (*NCC, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	n := &NCC{
		opts: opts, cfg: opts.Config, now: opts.Now, m: newMetrics(opts.Registerer),
		log:   opts.Logger.With("role", "ncc", "ncc", opts.Config.ID),
		ready: telemetry.NewReadiness("nats", "clickhouse", "consumer"),
		freed: make(chan struct{}, 1),
	}
	opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kuzet_ncc_inflight_bytes",
		Help: "Bytes of the envelopes held unacked (decompressed body and message), in the batch being written and the one being filled.",
	}, func() float64 { return float64(n.writing.Load() + n.filling.Load()) }))
	return n, nil
}

// Start connects to NATS and ClickHouse, migrates the schema, and starts
// consuming. ClickHouse being down at start is not an error: the ncc waits
// for it (not ready) and consumes once it answers.
func (n *NCC) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = n.Stop(sctx)
		}
	}()
	n.ops, err = telemetry.StartOps(n.cfg.HTTP.Listen, n.opts.Gatherer, n.ready, telemetry.OpsMux(n.cfg.HTTP), n.log)
	if err != nil {
		return fmt.Errorf("ncc: ops listener: %w", err)
	}
	n.cleanup.Push("ops listener", n.ops.Stop)
	if !n.cfg.Rules.Disabled {
		rs, err := n.loadRules()
		if err != nil {
			return fmt.Errorf("ncc: rules: %w", err)
		}
		n.rules.Store(rs)
		n.log.Info("rule set loaded", "rules", len(rs.Engine.Rules()), "version", rs.Version)
	}
	n.st, err = store.Open(ctx, n.cfg.ClickHouse, n.log)
	if err != nil {
		return err
	}
	n.cleanup.Push("clickhouse", func(context.Context) error { return n.st.Close() })
	n.client, err = bus.Dial(n.cfg.NATS, "kuzet-ncc "+n.cfg.ID, n.log)
	if err != nil {
		return err
	}
	n.cleanup.Push("nats", func(context.Context) error { n.client.Close(); return nil })
	js := n.client.JetStream()
	so := bus.StreamOptionsFor(n.cfg.NATS)
	for _, s := range n.cfg.Sites {
		so.Sites = append(so.Sites, bus.SiteSource{Domain: s.Domain, OISC: s.OISC})
		if s.OISC == "" {
			n.log.Warn("site has no oisc: its source is not filtered to one OISC's subjects", "site", s.Domain)
		}
	}
	n.sources = bus.NewSourceIndex(so.Sites)
	if err := bus.EnsureStreams(ctx, js, so); err != nil {
		return err
	}
	n.alertPub = bus.NewAlertPublisher(js, bus.DefaultAlertPublisherOptions())
	n.cons, err = bus.EnsureConsumer(ctx, js, bus.ConsumerOptions{
		Stream: bus.EventsStream, Durable: n.cfg.Consumer.Durable, FilterSubjects: []string{bus.EventsPrefix + ".>"},
		MaxAckPending: n.cfg.Consumer.MaxAckPending, AckWait: n.cfg.Consumer.AckWait,
	})
	if err != nil {
		return err
	}
	if err := correlation.EnsureStream(ctx, js, n.cfg.NATS.Replicas); err != nil {
		return err
	}
	if rs := n.rules.Load(); rs != nil && !n.cfg.Correlation.Disabled && len(rs.corr.Correlations()) > 0 {
		n.correlation, err = correlation.Start(ctx, js, n.st, correlation.Options{Set: rs.corr,
			Partitions: n.cfg.Correlation.Partitions, Member: n.cfg.ID, RuleSet: rs.Version, Replicas: n.cfg.NATS.Replicas,
			Engine: correlate.Options{Lateness: n.cfg.Correlation.Lateness, NoLateness: n.cfg.Correlation.Lateness == 0,
				MaxGroups: n.cfg.Correlation.MaxGroups, MaxBytes: n.cfg.Correlation.MaxBytes},
			Logger: n.log, Registerer: n.opts.Registerer})
		if err != nil {
			return fmt.Errorf("ncc: correlation stage: %w", err)
		}
		n.cleanup.Push("correlation stage", n.correlation.Stop)
	}
	if !n.cfg.Incidents.Disabled {
		resolver, err := n.watchRegistry(ctx)
		if err != nil {
			return fmt.Errorf("ncc: %w", err)
		}
		clocks, regs, err := n.clocks(resolver)
		if err != nil {
			return fmt.Errorf("ncc: %w", err)
		}
		var nopts *grouping.NotifyOptions
		if clocks != nil && !n.cfg.Notifications.Disabled {
			nopts = n.notifyOptions(resolver, regs)
		}
		n.incidents, err = grouping.Start(ctx, js, n.st, grouping.Options{Config: n.cfg.Incidents.Config, Clocks: clocks,
			Partitions: n.cfg.Incidents.Partitions, Member: n.cfg.ID, Replicas: n.cfg.NATS.Replicas,
			Logger: n.log, Registerer: n.opts.Registerer, Notify: nopts, Registry: resolver.Registry})
		if err != nil {
			return fmt.Errorf("ncc: incident stage: %w", err)
		}
		n.cleanup.Push("incident stage", n.incidents.Stop)
	}
	owned := map[string]func() []int{}
	if n.correlation != nil {
		owned["correlation"] = n.correlation.Owned
	}
	if n.incidents != nil {
		owned["incidents"] = n.incidents.Owned
	}
	for stage, parts := range owned {
		n.opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kuzet_stage_partitions_owned", ConstLabels: prometheus.Labels{"stage": stage},
			Help: "Partitions of the stage this ncc instance owns now (the instances' sum is the stage's partition count).",
		}, func() float64 { return float64(len(parts())) }))
	}
	n.ready.Set("nats", nil)
	n.ready.Set("consumer", nil)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.loopDone = make(chan struct{})
	n.cleanup.Push("consumer", n.stopLoop)
	go n.loop(lctx)
	n.bg.Add(1)
	go func() { defer n.bg.Done(); n.watchLag(lctx) }()
	if len(so.Sites) > 0 {
		n.bg.Add(1)
		go func() { defer n.bg.Done(); n.watchSites(lctx, so.Sites) }()
	}
	n.startDigests(lctx)
	n.startRetention(lctx)
	if n.rules.Load() != nil {
		n.bg.Add(1)
		go func() { defer n.bg.Done(); n.watchRules(lctx, &n.rules) }()
	}
	return nil
}

// watchRegistry reads the registry of critical objects from its bucket
// and keeps a resolver of notification recipients on its latest snapshot
// (the registry may be imported after the ncc starts: recipients resolve
// once it is there).
func (n *NCC) watchRegistry(ctx context.Context) (*notify.Resolver, error) {
	unresolved := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_notification_recipients_unresolved_total",
		Help: "Symbolic recipients of a stage the registry resolved to nobody, by role."}, []string{"role"})
	n.opts.Registerer.MustRegister(unresolved)
	r := notify.NewResolver(nil)
	r.Unresolved = func(role string) { unresolved.WithLabelValues(role).Inc() }
	kv, err := bus.OpenRegistryKV(ctx, n.client.JetStream(), n.cfg.NATS.Replicas, n.log)
	if err != nil {
		return nil, err
	}
	if reg, err := kv.Load(ctx); err == nil {
		r.Set(reg)
	} else {
		n.log.Warn("registry not loaded yet; notification recipients resolve once it is imported", "err", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for wctx.Err() == nil {
			if err := kv.Watch(wctx, r.Set); err != nil && wctx.Err() == nil {
				n.log.Warn("registry watch failed; retrying", "err", err)
				select {
				case <-wctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	n.cleanup.Push("registry watch", func(context.Context) error { cancel(); <-done; return nil })
	return r, nil
}

// notifyOptions configures the notification stage's channels.
func (n *NCC) notifyOptions(r *notify.Resolver, regs *incident.Regimes) *grouping.NotifyOptions {
	nf := n.cfg.Notifications
	o := &grouping.NotifyOptions{Builder: &notify.Builder{Resolver: r, Regimes: regs},
		Webhook: notify.NewWebhook(nf.WebhookTimeout), Backoff: nf.Backoff, MaxBackoff: nf.MaxBackoff, Recheck: nf.OverdueRecheck}
	if nf.SMTP.Addr != "" {
		o.Email = &notify.SMTP{Addr: nf.SMTP.Addr, From: nf.SMTP.From, Username: nf.SMTP.Username,
			Password: nf.SMTP.Password.Reveal(), StartTLS: nf.SMTP.StartTLS, Timeout: nf.WebhookTimeout}
	}
	return o
}

// clocks loads the notification regimes (nil when the file is missing:
// incidents then carry no clocks, which the log says); recipients resolve
// through r.
func (n *NCC) clocks(r *notify.Resolver) (*incident.Clocks, *incident.Regimes, error) {
	name := n.cfg.Incidents.RegimesFile
	if name == "" {
		return nil, nil, nil
	}
	// The calendars the file names are relative to the working directory,
	// as the file itself.
	data, err := os.ReadFile(name)
	var regs *incident.Regimes
	if err == nil {
		regs, err = incident.ParseRegimes(data, os.DirFS("."))
	}
	if errors.Is(err, fs.ErrNotExist) {
		n.log.Warn("notification regimes file not found; incidents carry no legal clocks", "regimes_file", n.cfg.Incidents.RegimesFile)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("incidents.regimes_file: %w", err)
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_incident_clock_inputs_rejected_total",
		Help: "Incidents whose notification clocks could not be computed, by reason."}, []string{"reason"})
	warned := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_incident_clock_warnings_total",
		Help: "Notification clock warnings (anchor fallback, calendar year missing), by reason."}, []string{"reason"})
	n.opts.Registerer.MustRegister(rejected, warned)
	c, err := incident.NewClocks(incident.ClockOptions{Regimes: regs, Resolve: r.Resolve,
		Rejected: func(r string) { rejected.WithLabelValues(r).Inc() },
		Warned:   func(r string) { warned.WithLabelValues(r).Inc() }})
	return c, regs, err
}

// Store returns the ClickHouse store (for the all-in-one binary's API).
func (n *NCC) Store() *store.Store { return n.st }

// OpsAddr is the address of /metrics, /healthz and /readyz.
func (n *NCC) OpsAddr() string { return n.ops.Addr() }

// Ready reports whether the ncc is ready.
func (n *NCC) Ready() bool { ok, _ := n.ready.Ready(); return ok }

// Stop stops fetching, flushes what it holds (acking it), and closes its
// connections and its ops listener, in reverse order of acquisition, within
// the earlier of ctx's end and stop_timeout: it returns in about
// stop_timeout even when ctx never ends and ClickHouse does not answer.
// Messages it could not flush are redelivered to the next consumer after
// AckWait; the error says so. Idempotent.
func (n *NCC) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() {
		n.ready.Set("consumer", errors.New("stopping"))
		if err := n.cleanup.Run(ctx, n.cfg.StopTimeout); err != nil {
			n.stopErr = fmt.Errorf("ncc: stop: %w", err)
		}
		n.log.Info("ncc stopped")
	})
	return n.stopErr
}

// stopLoop ends the loop and its watchers; the loop's final flush ends
// shortly before ctx's deadline, so that it can report.
func (n *NCC) stopLoop(ctx context.Context) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(n.cfg.StopTimeout)
	}
	n.flushDeadline.Store(dl.Add(-min(time.Until(dl)/10, 250*time.Millisecond)).UnixNano())
	n.cancel()
	select {
	case <-n.loopDone:
	case <-ctx.Done():
		return fmt.Errorf("flush not finished: %w", ctx.Err())
	}
	n.bg.Wait()
	if k := n.unacked.Load(); k > 0 {
		return fmt.Errorf("%d messages left unacked; they will be redelivered", k)
	}
	return nil
}

// Run starts the ncc and stops it when ctx ends, within the stop timeout.
func (n *NCC) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.StopTimeout)
	defer cancel()
	return n.Stop(sctx)
}

// held is what the loop holds between fetch and ack.
type held struct {
	msgs    []bus.Delivery
	rows    []store.EventRow
	alerts  []alert.Alert
	signals []correlation.SignalGroup // one per envelope with signals
	bytes   int64                     // of the envelopes: decompressed body and message
	oldest  time.Time
	touched time.Time // last InProgress
}

func (n *NCC) loop(ctx context.Context) {
	defer close(n.loopDone)
	if !n.migrate(ctx) {
		return
	}
	// The writer inserts one batch's events, and finishes the batch before
	// (alerts, publishes, acks), while the loop fetches and decodes the
	// next: at most three batches are held, all within MaxInflightBytes
	// (the writer's count as being written until they are acked).
	writes := make(chan *held)
	spare := make(chan *held, 1)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		n.writer(ctx, writes, spare)
	}()
	h := &held{}
	defer func() {
		close(writes)
		<-writerDone
		n.finalFlush(h)
	}()
	// perEnvelope is the counted bytes of an envelope lately (decompressed
	// body and message), to size fetches: a batch then stops near
	// MaxBatchBytes instead of overshooting it by a whole fetch, so the
	// batch being written and the one being filled both fit under
	// MaxInflightBytes and the loop keeps fetching while the writer writes.
	perEnvelope := n.cfg.Consumer.FetchMaxBytes
	for {
		if ctx.Err() != nil {
			return
		}
		if len(h.msgs) > 0 {
			perEnvelope = max(h.bytes/int64(len(h.msgs)), 1)
		}
		due := len(h.msgs) > 0 && n.now().Sub(h.oldest) >= n.cfg.Store.Linger
		full := len(h.rows) >= n.cfg.Store.MaxRows || h.bytes >= n.cfg.Store.MaxBatchBytes ||
			len(h.msgs) >= n.cfg.Consumer.MaxAckPending
		// A fetch of fetchBytes (compressed, so more once decoded) is made
		// only while that fits under MaxInflightBytes, and never below
		// MinFetchBytes (the largest envelope must fit).
		fetchBytes := min(n.cfg.Consumer.FetchMaxBytes, n.cfg.Store.MaxInflightBytes-n.writing.Load()-h.bytes)
		if fetchBytes < config.MinFetchBytes && !full && !due {
			if len(h.msgs) == 0 {
				// The batch being written is the whole allowance: wait for it.
				select {
				case <-n.freed:
				case <-ctx.Done():
				}
				continue
			}
			full = true
		}
		if full || due {
			// Counted as being written from now: the writer subtracts it.
			n.writing.Add(h.bytes)
			n.filling.Store(0)
			if !n.handOff(ctx, writes, h) {
				n.writing.Add(-h.bytes)
				return
			}
			select {
			case h = <-spare:
			default:
				h = &held{}
			}
			continue
		}
		// A fetch returns when it has room envelopes or its wait ends, and
		// the loop takes none of them before: a wait of the whole linger
		// held a batch's first envelope for up to a linger before its
		// age was counted. A quarter of it lets the loop decode and
		// detect as envelopes arrive, and close the batch near its linger.
		wait := n.cfg.Store.Linger / 4
		if len(h.msgs) > 0 {
			wait = min(wait, n.cfg.Store.Linger-n.now().Sub(h.oldest))
		}
		wait = max(wait, 10*time.Millisecond)
		room := min(n.cfg.Consumer.FetchBatch, n.cfg.Consumer.MaxAckPending-len(h.msgs))
		room = max(1, min(room, int((n.cfg.Store.MaxBatchBytes-h.bytes)/perEnvelope)))
		n.fetch(ctx, h, room, int(fetchBytes), wait)
	}
}

// writer is the last stage: it writes each batch handed to it (rows and
// alerts to ClickHouse, alerts to JetStream, then the acks), and offers
// the emptied batch for reuse on spare.
func (n *NCC) writer(ctx context.Context, writes <-chan *held, spare chan<- *held) {
	// The events INSERT of a batch overlaps the rest of the batch before
	// it (its alerts INSERT, the publishes and the acks), which the
	// finisher does in order, one batch at a time.
	finishes := make(chan *held)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for h := range finishes {
			b := h.bytes
			if !n.finish(ctx, h) {
				n.finalFinish(h)
			}
			n.done(h, b, spare)
		}
	}()
	defer func() {
		close(finishes)
		<-finished
	}()
	for h := range writes {
		b := h.bytes
		n.m.batchBytes.Observe(float64(b))
		if !n.storeEvents(ctx, h) {
			n.finalFlush(h)
			n.done(h, b, spare)
			continue
		}
		finishes <- h
	}
}

// done releases a written batch of b bytes: its bytes no longer count as
// being written, and an emptied batch is offered for reuse on spare.
func (n *NCC) done(h *held, b int64, spare chan<- *held) {
	n.writing.Add(-b)
	select {
	case n.freed <- struct{}{}:
	default:
	}
	if len(h.msgs) == 0 {
		select {
		case spare <- h:
		default:
		}
	}
}

// migrate applies the schema migrations, retrying with backoff while
// ClickHouse is unavailable. It returns false if ctx ended first.
func (n *NCC) migrate(ctx context.Context) bool {
	backoff := 100 * time.Millisecond
	for {
		err := n.st.Migrate(ctx)
		if err == nil {
			n.storeUp()
			return true
		}
		n.storeDown(err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, n.cfg.Store.MaxBackoff)
	}
}

// handOff gives h to the writer, waiting while it writes the batch before;
// meanwhile InProgress keeps h's messages from being redelivered.
func (n *NCC) handOff(ctx context.Context, writes chan<- *held, h *held) bool {
	t := time.NewTicker(n.cfg.Consumer.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case writes <- h:
			return true
		case <-t.C:
			for _, m := range h.msgs {
				_ = m.InProgress()
			}
			h.touched = n.now()
		case <-ctx.Done():
			return false
		}
	}
}

// fetch is the first stage: it waits up to wait for at most room
// envelopes and hands them to process.
func (n *NCC) fetch(ctx context.Context, h *held, room, maxBytes int, wait time.Duration) {
	start := n.now()
	ds, err := n.cons.Fetch(ctx, room, maxBytes, wait)
	if len(ds) > 0 {
		n.processAll(h, ds, start)
		n.filling.Store(h.bytes)
	}
	if err != nil {
		if ctx.Err() == nil {
			n.ready.Set("nats", err)
			n.log.Warn("fetch", "err", err)
			sleep(ctx, 500*time.Millisecond)
		}
		return
	}
	n.ready.Set("nats", nil)
}

// envelope is one delivered envelope through the stages: its events
// (decodeBatch), their rows and alerts (detect), before the loop takes
// them.
type envelope struct {
	msg     bus.Delivery
	id      string // the batch id
	ok      bool
	events  []decodedEvent // dropped once detection ran
	count   int            // events in the envelope, rejected ones included
	bytes   int64          // decompressed body and message
	rows    []store.EventRow
	alerts  []alert.Alert
	signals []correlate.Signal
}

// decodedEvent is one event of an envelope, with its JSON document for
// detection.
type decodedEvent struct {
	ev  *event.Event
	doc map[string]any
}

// processAll runs the stages of the envelopes of one fetch on every core,
// then takes them in their order; the fetch started at fetched.
func (n *NCC) processAll(h *held, ds []bus.Delivery, fetched time.Time) {
	out := make([]envelope, len(ds))
	workers := min(runtime.GOMAXPROCS(0), len(ds))
	if workers <= 1 {
		for i, d := range ds {
			out[i] = n.safeProcess(d)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(ds); i = int(next.Add(1)) - 1 {
					out[i] = n.safeProcess(ds[i])
				}
			})
		}
		wg.Wait()
	}
	for i := range out {
		n.take(h, &out[i], fetched)
	}
}

// safeProcess runs process, recovering from a panic (a decoder bug that
// some envelope reaches): the envelope is terminated like one that does
// not decode, and stays in the stream for inspection.
func (n *NCC) safeProcess(msg bus.Delivery) (e envelope) {
	defer func() {
		if r := recover(); r != nil {
			n.m.rejected.WithLabelValues("decode_panic").Inc()
			n.log.Error("envelope decoding failed; terminated, left in the stream", "subject", msg.Subject(), "panic", r)
			e = envelope{msg: msg}
		}
	}()
	return n.process(msg)
}

// process runs the stages of one envelope before the writer: decodeBatch,
// then detect. Safe for concurrent use.
func (n *NCC) process(msg bus.Delivery) envelope {
	e := n.decodeBatch(msg)
	if e.ok {
		e.alerts, e.signals = n.detect(e.events)
	}
	e.events = nil
	return e
}

// decodeBatch decodes one envelope into its events and their rows.
// Events that do not decode are counted and left out. Safe for concurrent
// use.
func (n *NCC) decodeBatch(msg bus.Delivery) envelope {
	d := envelope{msg: msg}
	if site, err := n.sources.Check(msg.Headers(), msg.Subject()); err != nil {
		// The site's filter was widened (and not yet set back) or its
		// server forged the delivery: none of it is stored.
		n.m.rejected.WithLabelValues("foreign_subject").Inc()
		n.m.siteForeignRejected.WithLabelValues(site).Inc()
		n.log.Error("sourced envelope under another OISC's subject; terminated, left in the stream", "site", site,
			"subject", msg.Subject(), "err", err)
		return d
	}
	b, size, err := bus.DecodeBatchSize(msg.Headers(), msg.Data())
	if err != nil {
		reason := "bad_envelope"
		if errors.Is(err, bus.ErrTooLarge) {
			reason = "envelope_too_large"
		}
		n.m.rejected.WithLabelValues(reason).Inc()
		n.log.Error("envelope rejected; terminated, left in the stream", "subject", msg.Subject(), "err", err)
		return d
	}
	d.ok, d.id, d.count = true, b.ID, len(b.Events)
	d.bytes = int64(size)
	if msg.Headers().Get(bus.HeaderEncoding) != "" {
		d.bytes += int64(len(msg.Data()))
	}
	d.rows = make([]store.EventRow, 0, len(b.Events))
	d.events = make([]decodedEvent, 0, len(b.Events))
	for _, raw := range b.Events {
		ev, doc, err := event.Decode(raw)
		if err != nil {
			n.m.rejected.WithLabelValues("bad_event").Inc()
			n.log.Warn("event rejected", "batch", b.ID, "err", err)
			continue
		}
		row, err := store.NewEventRow(ev, raw)
		if err != nil {
			n.m.rejected.WithLabelValues("bad_event").Inc()
			n.log.Warn("event rejected", "batch", b.ID, "err", err)
			continue
		}
		d.rows = append(d.rows, row)
		d.events = append(d.events, decodedEvent{ev: ev, doc: doc})
	}
	return d
}

// detect runs the rule set in use on events and returns their alerts and
// the signals of correlation-referenced rules.
// Pipeline errors and events without a document are not matched. Safe for
// concurrent use.
func (n *NCC) detect(events []decodedEvent) ([]alert.Alert, []correlate.Signal) {
	rs := n.rules.Load()
	if rs == nil {
		return nil, nil
	}
	now := n.now().UTC()
	var (
		out  []alert.Alert
		sigs []correlate.Signal
	)
	for _, e := range events {
		if e.doc != nil && e.ev.Event.Kind != "pipeline_error" {
			as, ss := n.safeDetect(rs, e.ev, e.doc, now)
			out, sigs = append(out, as...), append(sigs, ss...)
		}
	}
	return out, sigs
}

// safeDetect runs detectEvent, recovering from a panic (an engine bug that
// some event reaches): the event is stored without alerts and counted,
// instead of crashing the ncc on every redelivery of its batch.
func (n *NCC) safeDetect(rs *ruleSet, ev *event.Event, doc map[string]any, now time.Time) (alerts []alert.Alert, sigs []correlate.Signal) {
	defer func() {
		if r := recover(); r != nil {
			n.m.detectErrors.Inc()
			n.log.Error("detection failed on an event; stored without alerts", "event_id", ev.Kuzet.EventID, "panic", r)
			alerts, sigs = nil, nil
		}
	}()
	if n.detectHook != nil {
		n.detectHook(ev)
	}
	return n.detectEvent(rs, ev, doc, now)
}

// take adds one processed envelope, delivered by a fetch that started at
// fetched, to the rows held until the next flush; one that did not decode
// is terminated. A batch's age counts from the fetch of its first
// envelope, not from when decoding it ended.
func (n *NCC) take(h *held, d *envelope, fetched time.Time) {
	if !d.ok {
		_ = d.msg.Term()
		return
	}
	n.m.batches.Inc()
	if d.msg.NumDelivered() > 1 {
		n.m.redelivered.Inc()
	}
	h.rows = append(h.rows, d.rows...)
	h.alerts = append(h.alerts, d.alerts...)
	if len(d.signals) > 0 {
		h.signals = append(h.signals, correlation.SignalGroup{Key: d.id, Signals: d.signals})
	}
	h.bytes += d.bytes
	n.m.events.Add(float64(d.count))
	if len(h.msgs) == 0 {
		h.oldest = fetched
		h.touched = n.now()
	}
	h.msgs = append(h.msgs, d.msg)
}

// flush writes the held rows, retrying until it succeeds or ctx ends, then
// acks the held messages. It returns false if ctx ended first.
func (n *NCC) flush(ctx context.Context, h *held) bool {
	return n.storeEvents(ctx, h) && n.finish(ctx, h)
}

// storeEvents inserts the held rows, retrying until it succeeds or ctx
// ends (it returns false then). The events are queryable from its return:
// their latency is observed, and the rows are released (the alerts and the
// acks that follow do not need them).
func (n *NCC) storeEvents(ctx context.Context, h *held) bool {
	ok := n.retry(ctx, h, func() (bool, error) {
		failpoint.Hit("ncc-before-insert")
		start := time.Now()
		if err := n.st.InsertEvents(ctx, h.rows); err != nil {
			return true, err
		}
		d := time.Since(start).Seconds()
		n.m.writeStep.WithLabelValues("events").Observe(d)
		n.m.insertTime.Observe(d)
		return true, nil
	})
	if !ok {
		return false
	}
	now := n.now()
	for _, r := range h.rows {
		n.m.latency.Observe(now.Sub(r.Ev.Kuzet.ReceivedAt).Seconds())
	}
	n.m.stored.Add(float64(len(h.rows)))
	clear(h.rows)
	h.rows = h.rows[:0]
	n.storeUp()
	return true
}

// finish does the rest of a batch whose events are stored: it inserts
// the alerts, publishes them and the signals, then acks the held
// messages, retrying until all of it succeeds or ctx ends (it returns
// false then).
func (n *NCC) finish(ctx context.Context, h *held) bool {
	ok := n.retry(ctx, h, func() (bool, error) {
		steps, last := [3]time.Duration{}, time.Now()
		step := func(i int) {
			now := time.Now()
			steps[i], last = now.Sub(last), now
		}
		if err := n.st.InsertAlerts(ctx, h.alerts); err != nil {
			return true, err
		}
		step(0)
		if err := n.alertPub.Publish(ctx, h.alerts); err != nil {
			return false, err
		}
		step(1)
		if len(h.signals) > 0 && n.correlation != nil {
			if err := correlation.Publish(ctx, n.alertPub, h.signals, n.cfg.Correlation.Partitions); err != nil {
				return false, err
			}
			step(2)
		}
		for i, name := range [...]string{"alerts", "publish_alerts", "publish_signals"} {
			n.m.writeStep.WithLabelValues(name).Observe(steps[i].Seconds())
		}
		return true, nil
	})
	if !ok {
		return false
	}
	failpoint.Hit("ncc-after-insert") // stored, not yet acked
	n.ack(h)
	n.storeUp()
	return true
}

// retry runs write until it succeeds or ctx ends, with backoff; it
// returns false if ctx ended first. write reports whether its failure
// came from ClickHouse (stored is true) or from NATS not taking a
// publish. While it retries, InProgress keeps h's messages from being
// redelivered.
func (n *NCC) retry(ctx context.Context, h *held, write func() (stored bool, err error)) bool {
	backoff := 100 * time.Millisecond
	for {
		stored, err := write()
		if err == nil {
			return true
		}
		if !stored {
			// NATS did not take the alerts. Retried with backoff: the rows
			// are rewritten, idempotent by id.
			n.ready.Set("nats", err)
			n.log.Warn("alerts not published, retrying", "alerts", len(h.alerts), "err", err)
		} else {
			n.m.insertErrors.Inc()
			n.storeDown(err)
			if !errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil {
				// The server refused the data itself: retrying the same
				// rows will not help. Should never happen with validated
				// events; do not ack, so nothing is lost, and back off to
				// the maximum.
				n.log.Error("insert refused by ClickHouse", "rows", len(h.rows), "alerts", len(h.alerts), "err", err)
				backoff = n.cfg.Store.MaxBackoff
			}
		}
		if n.now().Sub(h.touched) >= n.cfg.Consumer.AckWait/3 {
			for _, m := range h.msgs {
				_ = m.InProgress()
			}
			h.touched = n.now()
		}
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, n.cfg.Store.MaxBackoff)
	}
}

// finalFlush tries once more to flush at shutdown, until the deadline
// Stop set.
func (n *NCC) finalFlush(h *held) { n.final(h, n.flush) }

// finalFinish is finalFlush for a batch whose events are stored.
func (n *NCC) finalFinish(h *held) { n.final(h, n.finish) }

func (n *NCC) final(h *held, write func(context.Context, *held) bool) {
	if len(h.msgs) == 0 {
		return
	}
	dl := n.flushDeadline.Load()
	if dl == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, dl))
	defer cancel()
	if !write(ctx, h) {
		n.unacked.Add(int64(len(h.msgs)))
		n.log.Warn("messages left unacked at shutdown; they will be redelivered", "messages", len(h.msgs))
	}
}

func (n *NCC) ack(h *held) {
	if n.ackHook == nil || n.ackHook(h.msgs) {
		for _, m := range h.msgs {
			if err := m.Ack(); err != nil {
				// The events are stored; a redelivery only rewrites them.
				n.log.Warn("ack failed; the batch will be redelivered and deduplicated", "err", err)
			}
		}
		n.m.acked.Add(float64(len(h.msgs)))
	}
	h.reset(n.cfg.Store.MaxRows)
}

// reset empties h for reuse. The slices are cleared, not only resliced, so
// that h holds no reference to the messages, events and envelope bodies it
// held (a reused batch would otherwise keep the last burst alive); one that
// grew past maxRows (a burst of alerts, a last envelope over the limit) is
// dropped, so the next batch starts small.
func (h *held) reset(maxRows int) {
	h.msgs = resetSlice(h.msgs, maxRows)
	h.rows = resetSlice(h.rows, maxRows)
	h.alerts = resetSlice(h.alerts, maxRows)
	h.signals = resetSlice(h.signals, maxRows)
	h.bytes, h.oldest, h.touched = 0, time.Time{}, time.Time{}
}

// resetSlice returns s emptied with its elements zeroed, or nil when its
// capacity is over limit.
func resetSlice[T any](s []T, limit int) []T {
	if cap(s) > limit {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}

func (n *NCC) storeDown(err error) {
	n.ready.Set("clickhouse", err)
	n.m.storeUp.Set(0)
	n.log.Warn("clickhouse unavailable, retrying", "err", err)
}

func (n *NCC) storeUp() {
	n.ready.Set("clickhouse", nil)
	n.m.storeUp.Set(1)
}

func (n *NCC) watchLag(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if i%5 == 0 {
				n.readStreams(ctx)
			}
			ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
			pending, ackPending, err := n.cons.Pending(ictx)
			cancel()
			if err != nil {
				continue
			}
			n.m.pending.Set(float64(pending))
			n.m.ackPending.Set(float64(ackPending))
		}
	}
}

// readStreams exports how full the events and alerts streams are: past
// their max_bytes JetStream drops the oldest messages, read or not.
func (n *NCC) readStreams(ctx context.Context) {
	for _, name := range []string{bus.EventsStream, bus.AlertsStream} {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := n.client.JetStream().Stream(ictx, name)
		if err == nil {
			if info, err := st.Info(ictx); err == nil {
				n.m.streamBytes.WithLabelValues(name).Set(float64(info.State.Bytes))
				n.m.streamMaxBytes.WithLabelValues(name).Set(float64(info.Config.MaxBytes))
			}
		}
		cancel()
	}
}

// siteInspectEvery is how often the ncc reads the sites' buffers.
const siteInspectEvery = 5 * time.Second

// watchSites reads each site's buffer through its JetStream domain: the
// messages under other OISCs' subjects (kept out of the events stream by
// the source filter) are exported and logged, and a source filter the site
// changed is set back. A site cut off keeps its last figure.
func (n *NCC) watchSites(ctx context.Context, sites []bus.SiteSource) {
	t := time.NewTicker(siteInspectEvery)
	defer t.Stop()
	last := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range sites {
			if s.OISC == "" {
				continue
			}
			js, err := n.client.JetStreamDomain(s.Domain)
			if err != nil {
				continue
			}
			ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
			in, err := bus.InspectSite(ictx, js, s)
			cancel()
			if err != nil {
				n.log.Debug("site not inspected", "site", s.Domain, "err", err)
				continue
			}
			n.m.siteForeign.WithLabelValues(s.Domain).Set(float64(in.Foreign))
			if in.Foreign != last[s.Domain] && in.Foreign > 0 {
				n.log.Warn("site holds messages under another OISC's subjects; they are not sourced",
					"site", s.Domain, "oisc", s.OISC, "messages", in.Foreign, "subjects", in.Subjects)
			}
			last[s.Domain] = in.Foreign
			if in.FilterReset {
				n.m.siteFilterResets.WithLabelValues(s.Domain).Inc()
				n.log.Warn("site source consumer had another filter; set back to its OISC's", "site", s.Domain, "oisc", s.OISC)
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
