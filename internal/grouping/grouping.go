// Package grouping is the ncc's incident stage (stage 3 of
// ARCHITECTURE.md): it routes every alert to the partition of its
// organisation, groups each partition's alerts into incidents with the pure
// incident.Grouper, and makes the incidents durable.
//
// # Flow
//
//	KUZET_ALERTS (kuzet.alerts.<oisc>.<sector>, every alert the ncc makes)
//	  -> router: durable consumer, stateless, any instance; publishes each
//	     alert share to kuzet.incident.<incident.Partition(org, n)> with
//	     Nats-Msg-Id <alert id>/<org>, then acks
//	  -> stage.Runner "incident": the owner of a partition feeds its
//	     Grouper in stream order (each message's stored time is its "now",
//	     so a replay after a takeover groups alike) and ticks it every
//	     second for group_wait/group_interval/repeat_interval
//	  -> each incident update: read-modify-write of the incident in the
//	     kuzet_incidents KV bucket by compare-and-set (analysts' changes
//	     stay: incident.ApplyGrouping), then a row of the incidents table
//	     at the new revision, its alert links and, for an opening or a
//	     merge, a history entry; then the incident's entities go to the
//	     national stage (national.go).
//
// Alerts of assets the registry does not know (no organisation) stay
// alerts: they are counted (kuzet_incident_alerts_unrouted_total) and
// open no incident, since incidents belong to one organisation.
package grouping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/failpoint"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/stage"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// Group is the stage's name: its stream is KUZET_INCIDENT.
const Group = bus.IncidentGroup

// Options configure the stage.
type Options struct {
	Config incident.Config
	// Partitions is the fixed number of grouping partitions (default 16).
	Partitions int
	// Member is this ncc instance's id.
	Member     string
	Replicas   int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Heartbeat and TTL of partition membership (defaults 1 s and 4 s).
	Heartbeat, TTL time.Duration
	// Tick is how often grouping timers run (default 1 s).
	Tick time.Duration
	// Clocks compute each incident's legal notification stages when it is
	// written (nil: none).
	Clocks *incident.Clocks
	// Notify runs the notification stage (nil: none; see OutboxGroup).
	Notify *NotifyOptions
	// Registry is the registry's latest snapshot, which new incidents from
	// the API are checked against (nil: the API cannot create incidents).
	Registry func() *registry.Registry
}

// Stage is a running incident stage.
type Stage struct {
	opts   Options
	js     jetstream.JetStream
	st     *store.Store
	kv     *bus.IncidentKV
	rsit   *incident.RSITMapping
	log    *slog.Logger
	m      *metrics
	runner *stage.Runner
	// national is the national stage (nil when disabled).
	national *stage.Runner
	// notify is nil without a notification stage; outboxes runs its
	// partitions.
	notify   *NotifyOptions
	nm       *notifyMetrics
	outboxes *stage.Runner
	cancel   context.CancelFunc
	done     chan struct{}
	ackDone  chan struct{}
	// rm counts the API's requests; rpcStops end their subscriptions.
	rm       *rpcMetrics
	rpcStops []func()
}

func (s *Stage) registry() *registry.Registry {
	if s.opts.Registry == nil {
		return nil
	}
	return s.opts.Registry()
}

type metrics struct {
	routed, unrouted, persisted, conflicts prometheus.Counter
	mu                                     sync.Mutex
	reg                                    prometheus.Registerer
	vecs                                   map[string]*prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{reg: reg, vecs: map[string]*prometheus.CounterVec{},
		routed: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_incident_alerts_routed_total",
			Help: "Alert shares routed to a grouping partition."}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_incident_alerts_unrouted_total",
			Help: "Alerts of assets with no organisation: kept as alerts, no incident."}),
		persisted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_incident_updates_persisted_total",
			Help: "Incident updates written to the incidents bucket and table."}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_incident_write_conflicts_total",
			Help: "Incident writes retried after a concurrent change (compare-and-set)."}),
	}
	if reg != nil {
		reg.MustRegister(m.routed, m.unrouted, m.persisted, m.conflicts)
	}
	return m
}

// count is the incident package's CountFunc: one counter vector per metric
// it names, registered when first counted.
func (m *metrics) count(mt incident.Metric, v string) {
	m.mu.Lock()
	vec, ok := m.vecs[mt.Name]
	if !ok {
		labels := []string{}
		if mt.Label != "" {
			labels = []string{mt.Label}
		}
		vec = prometheus.NewCounterVec(prometheus.CounterOpts{Name: mt.Name, Help: mt.Help}, labels)
		if m.reg != nil {
			if err := m.reg.Register(vec); err != nil {
				var are prometheus.AlreadyRegisteredError
				if errors.As(err, &are) {
					vec = are.ExistingCollector.(*prometheus.CounterVec)
				}
			}
		}
		m.vecs[mt.Name] = vec
	}
	m.mu.Unlock()
	if mt.Label == "" {
		vec.WithLabelValues().Inc()
		return
	}
	vec.WithLabelValues(v).Inc()
}

// Start opens the incidents bucket, starts the router and this instance's
// share of the grouping partitions.
func Start(ctx context.Context, js jetstream.JetStream, st *store.Store, o Options) (*Stage, error) {
	if o.Partitions <= 0 {
		o.Partitions = 16
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stage{opts: o, js: js, st: st, log: o.Logger.With("stage", Group), m: newMetrics(o.Registerer), done: make(chan struct{})}
	if o.Config.RSITFile != "" {
		data, err := os.ReadFile(o.Config.RSITFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Never stop the ncc for it: incidents are classified
			// other:undetermined until the file is there (analysts can set
			// the class).
			s.log.Warn("RSIT mapping file not found; incidents are classified other:undetermined", "rsit_file", o.Config.RSITFile)
		case err != nil:
			return nil, fmt.Errorf("grouping: rsit_file: %w", err)
		default:
			if s.rsit, err = incident.ParseRSITMapping(data); err != nil {
				return nil, fmt.Errorf("grouping: %s: %w", o.Config.RSITFile, err)
			}
		}
	}
	var err error
	if s.kv, err = bus.OpenIncidentKV(ctx, js, o.Replicas); err != nil {
		return nil, err
	}
	so := bus.DefaultStageStreamOptions()
	so.Replicas = o.Replicas
	if err := bus.EnsureStageStream(ctx, js, Group, so); err != nil {
		return nil, err
	}
	if err := recordPartitions(ctx, js, o); err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.AlertsStream, jetstream.ConsumerConfig{
		Durable: "kuzet-incident-router", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxAckPending: 4096, DeliverPolicy: jetstream.DeliverAllPolicy,
		Description: "routes alerts to the incident stage's partitions",
	})
	if err != nil {
		return nil, fmt.Errorf("grouping: router consumer: %w", err)
	}
	var acks jetstream.Consumer
	if o.Notify != nil {
		s.notify = o.Notify
		s.notify.defaults()
		s.nm = newNotifyMetrics(o.Registerer)
		if err := bus.EnsureStageStream(ctx, js, OutboxGroup, so); err != nil {
			return nil, err
		}
		if err := bus.EnsureNotifyStream(ctx, js, o.Replicas, 0); err != nil {
			return nil, err
		}
		if acks, err = bus.NotifyAckConsumer(ctx, js); err != nil {
			return nil, err
		}
	}
	if !o.Config.National.Disabled {
		s.national, err = stage.Start(ctx, js, stage.Options{Group: NationalGroup, Count: o.Partitions, Member: o.Member,
			New: s.newNational, Tick: o.Tick, Heartbeat: o.Heartbeat, TTL: o.TTL, Replicas: o.Replicas, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
	}
	s.runner, err = stage.Start(ctx, js, stage.Options{Group: Group, Count: o.Partitions, Member: o.Member,
		New: s.newProcessor, Tick: o.Tick, Heartbeat: o.Heartbeat, TTL: o.TTL, Replicas: o.Replicas, Logger: o.Logger})
	if err != nil {
		if s.national != nil {
			_ = s.national.Stop(ctx)
		}
		return nil, err
	}
	if s.notify != nil {
		s.outboxes, err = stage.Start(ctx, js, stage.Options{Group: OutboxGroup, Count: o.Partitions, Member: o.Member,
			New: s.newOutbox, Tick: o.Tick, Heartbeat: o.Heartbeat, TTL: o.TTL, Replicas: o.Replicas, Logger: o.Logger})
		if err != nil {
			_ = s.runner.Stop(ctx)
			if s.national != nil {
				_ = s.national.Stop(ctx)
			}
			return nil, err
		}
	}
	if err := s.serveRPC(o.Registerer); err != nil {
		_ = s.runner.Stop(ctx)
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.route(rctx, cons)
	}()
	s.ackDone = make(chan struct{})
	go func() {
		defer close(s.ackDone)
		if acks != nil {
			s.acks(rctx, acks)
		}
	}()
	return s, nil
}

// Stop stops the router and the partitions (each checkpoints).
func (s *Stage) Stop(ctx context.Context) error {
	for _, stop := range s.rpcStops {
		stop()
	}
	s.cancel()
	for _, done := range []chan struct{}{s.done, s.ackDone} {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := s.runner.Stop(ctx)
	if s.national != nil {
		err = errors.Join(err, s.national.Stop(ctx))
	}
	if s.outboxes != nil {
		err = errors.Join(err, s.outboxes.Stop(ctx))
	}
	return err
}

// Owned returns the grouping partitions this instance owns.
func (s *Stage) Owned() []int { return s.runner.Owned() }

// FromStoreAlert is the grouping input of an alert share.
func FromStoreAlert(a alert.Alert) incident.Alert {
	ents := map[string]string{}
	for k, v := range map[string]string{"source.ip": a.SourceIP, "user.name": a.UserName, "host.name": a.HostName} {
		if v != "" {
			ents[k] = v
		}
	}
	return incident.Alert{ID: a.ID.String(), RuleID: a.RuleID, RuleTitle: a.RuleTitle, Level: a.Level, Tags: a.Tags,
		Org: a.Org, Object: a.Object, Sector: a.Sector, OISC: a.OISC, ObjectClass: a.Criticality,
		EventTime: a.EventTime, DetectedAt: a.DetectedAt, Entities: ents}
}

// route moves alerts from KUZET_ALERTS to the grouping partitions.
func (s *Stage) route(ctx context.Context, cons jetstream.Consumer) {
	s.consume(ctx, cons, 256, "alert routing", s.routeOne)
}

// consume hands each message of a durable consumer to handle, batch by
// batch, until ctx ends: a message is acked when handle succeeds and
// nacked (redelivered) when it fails, the rest of the batch then waiting
// for the retry, which backs off up to 5 s.
func (s *Stage) consume(ctx context.Context, cons jetstream.Consumer, batchSize int, what string, handle func(context.Context, jetstream.Msg) error) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		batch, err := cons.Fetch(batchSize, jetstream.FetchMaxWait(time.Second))
		if err == nil {
			for msg := range batch.Messages() {
				if err = handle(ctx, msg); err != nil {
					_ = msg.Nak()
					break
				}
				_ = msg.Ack()
			}
			if err == nil {
				err = batch.Error()
			}
		}
		if err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			s.log.Warn(what+" failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}

func (s *Stage) routeOne(ctx context.Context, msg jetstream.Msg) error {
	var a alert.Alert
	if err := json.Unmarshal(msg.Data(), &a); err != nil {
		s.log.Warn("alert not decoded; not grouped", "subject", msg.Subject(), "err", err)
		return nil
	}
	if a.Org == "" {
		s.m.unrouted.Inc()
		return nil
	}
	in := FromStoreAlert(a)
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := bus.PublishStage(pctx, s.js, Group, incident.Partition(a.Org, s.opts.Partitions), in.ID+"/"+a.Org, nil, data); err != nil {
		return err
	}
	s.m.routed.Inc()
	return nil
}

// processor groups one partition.
type processor struct {
	s    *Stage
	part int
	g    *incident.Grouper
}

func (s *Stage) newProcessor(part int) stage.Processor { return &processor{s: s, part: part} }

func (p *processor) Restore(state []byte) error {
	g, err := incident.NewGrouper(p.s.opts.Config.GrouperOptions(p.part, p.s.opts.Partitions, p.s.rsit, p.s.m.count))
	if err != nil {
		return err
	}
	if state != nil {
		if err := g.Restore(state); err != nil {
			return err
		}
	}
	p.g = g
	return nil
}

func (p *processor) Snapshot() ([]byte, error) { return p.g.Snapshot() }

func (p *processor) Process(ctx context.Context, msgs []bus.StageMsg) error {
	for _, m := range msgs {
		if m.Header.Get(bus.KindHeader) == bus.KindSilence {
			p.applySilence(m)
			continue
		}
		var a incident.Alert
		if err := json.Unmarshal(m.Data, &a); err != nil {
			p.s.log.Warn("grouping input not decoded; skipped", "seq", m.Seq, "err", err)
			continue
		}
		// The message's stored time is "now": a replay groups alike.
		if _, err := p.g.Add(a, m.Time); err != nil {
			var ie *incident.InputError
			if errors.As(err, &ie) {
				continue // counted by the grouper, by reason
			}
			return err
		}
	}
	return nil
}

func (p *processor) Tick(ctx context.Context, now time.Time) error {
	for _, u := range p.g.Tick(now) {
		if err := p.s.persist(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// write changes one incident by compare-and-set in the bucket: change
// gets the stored incident (nil: not stored yet) and its revision, and
// returns the incident to store and its history entries; a concurrent
// change (an analyst's, another owner's) makes it try again on the newer
// revision. The new revision is then written to the incidents table with
// the entries. It returns the incident as stored. Before the
// compare-and-set, the notification jobs and watches the new version has
// and the stored one had not go to the outbox (see OutboxGroup).
func (s *Stage) write(ctx context.Context, id string, at time.Time,
	change func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry)) (incident.Incident, error) {
	return s.update(ctx, id, at, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		next, entries := change(stored, rev)
		return next, entries, nil
	})
}

// errNoWrite, returned by an update's change, writes nothing: update
// returns the stored incident.
var errNoWrite = errors.New("grouping: nothing to write")

// update is write whose change may refuse: errNoWrite writes nothing and
// returns the stored incident (zero when none), another error is returned
// as it is.
func (s *Stage) update(ctx context.Context, id string, at time.Time,
	change func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error)) (incident.Incident, error) {
	for attempt := 0; ; attempt++ {
		val, rev, err := s.kv.Get(ctx, id)
		if err != nil {
			return incident.Incident{}, err
		}
		var stored *incident.Incident
		if val != nil {
			var in incident.Incident
			if err := json.Unmarshal(val, &in); err != nil {
				return incident.Incident{}, fmt.Errorf("grouping: incident %s in the bucket: %w", id, err)
			}
			in.Version = rev
			stored = &in
		}
		next, entries, err := change(stored, rev)
		if errors.Is(err, errNoWrite) {
			if stored == nil {
				return incident.Incident{}, nil
			}
			return *stored, nil
		}
		if err != nil {
			return incident.Incident{}, err
		}
		next.Version = 0
		if err := s.outbox(ctx, stored, &next); err != nil {
			return incident.Incident{}, err
		}
		failpoint.Hit("incident.before_write")
		data, err := json.Marshal(next)
		if err != nil {
			return incident.Incident{}, err
		}
		newRev, err := s.kv.Put(ctx, next.ID, rev, data)
		if errors.Is(err, bus.ErrRevisionConflict) && attempt < 10 {
			s.m.conflicts.Inc()
			continue
		}
		if err != nil {
			return incident.Incident{}, err
		}
		next.Version = newRev
		for i := range entries {
			entries[i].Version = newRev
		}
		if err := s.st.InsertIncidents(ctx, []store.StoredIncident{{Incident: next, UpdatedAt: at}}); err != nil {
			return incident.Incident{}, err
		}
		if err := s.st.InsertIncidentLog(ctx, entries); err != nil {
			return incident.Incident{}, err
		}
		s.m.persisted.Inc()
		return next, nil
	}
}

// persist writes one grouping update (see write), links its new alerts
// and hands the incident to the national stage. Writing an update twice
// (a replay after a takeover) stores the same incident again at a newer
// revision.
func (s *Stage) persist(ctx context.Context, u incident.Update) error {
	into := ""
	next, err := s.update(ctx, u.Incident.ID, u.At, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		into = ""
		if stored != nil && stored.DuplicateOf != "" && stored.Status == incident.StatusClosed && u.Kind != incident.UpdateMerged {
			// An analyst merged it: what grouping adds goes to the survivor.
			into = stored.DuplicateOf
			return incident.Incident{}, nil, errNoWrite
		}
		next := incident.ApplyGrouping(stored, u)
		var entries []store.IncidentLogEntry
		if c := u.Change(); c != nil {
			applied, e, err := incident.Apply(next, rev, *c)
			if err == nil {
				next = applied
			}
			entries = append(entries, logEntry(e, u))
		} else if stored == nil {
			entries = append(entries, store.IncidentLogEntry{
				ID: entryID(u.Incident.ID, string(u.Kind), u.At), IncidentID: u.Incident.ID, At: u.At, Actor: "system:grouping",
				Action: "open", Outcome: "applied"})
		}
		if s.opts.Clocks != nil {
			// Amendments re-evaluate pending stages only; a refused input
			// keeps the recorded stages (counted by the clocks).
			if stages, warns, err := s.opts.Clocks.Compute(next.ClockInput(), u.At); err == nil {
				next.Stages = stages
				for _, w := range warns {
					s.log.Debug("notification clock", "incident", next.ID, "warning", w)
				}
			}
		}
		return next, entries, nil
	})
	if err != nil {
		return err
	}
	if into != "" {
		return s.redirect(ctx, into, u)
	}
	links := make([]store.IncidentAlert, 0, len(u.NewAlerts))
	for _, id := range u.NewAlerts {
		links = append(links, store.IncidentAlert{IncidentID: next.ID, AlertID: id, Org: next.Org, LinkedAt: u.At})
	}
	if err := s.st.LinkIncidentAlerts(ctx, links); err != nil {
		return err
	}
	return s.publishLocal(ctx, next)
}

// redirect gives the new alerts of a merged incident's group to the
// incident it was merged into.
func (s *Stage) redirect(ctx context.Context, into string, u incident.Update) error {
	if len(u.NewAlerts) == 0 {
		return nil
	}
	survivor, err := s.update(ctx, into, u.At, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		if stored == nil {
			return incident.Incident{}, nil, errNoWrite
		}
		next := stored.Clone()
		next.AlertCount += len(u.NewAlerts)
		next.LastActivityAt = latest(next.LastActivityAt, u.Incident.LastActivityAt)
		return next, nil, nil
	})
	if err != nil || survivor.ID == "" {
		return err
	}
	links := make([]store.IncidentAlert, 0, len(u.NewAlerts))
	for _, id := range u.NewAlerts {
		links = append(links, store.IncidentAlert{IncidentID: survivor.ID, AlertID: id, Org: survivor.Org, LinkedAt: u.At})
	}
	return s.st.LinkIncidentAlerts(ctx, links)
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

var entryNamespace = uuid.MustParse("2b4d8e0a-5c61-4f4e-9a3b-7d1c0e6f5a21")

// entryID makes history entries of system changes deterministic, so a
// replayed update logs once.
func entryID(incidentID, action string, at time.Time) uuid.UUID {
	return uuid.NewSHA1(entryNamespace, []byte(incidentID+"|"+action+"|"+at.UTC().Format(time.RFC3339Nano)))
}

func logEntry(e incident.LogEntry, u incident.Update) store.IncidentLogEntry {
	detail, _ := json.Marshal(e)
	return store.IncidentLogEntry{ID: entryID(e.IncidentID, string(e.Change.Action), u.At), IncidentID: e.IncidentID, At: u.At,
		Actor: e.Actor, Action: string(e.Change.Action), Outcome: string(e.Outcome), Detail: detail}
}
