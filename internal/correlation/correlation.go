// Package correlation is the ncc's correlation stage (stage 2 of
// ARCHITECTURE.md): detection (stage 1, any ncc instance) publishes every
// match of a rule that a correlation references as a Signal to
// kuzet.correlate.<partition>, partition = correlate.Partition(correlation
// id, group-by values, n); the owner of a partition applies its signals in
// stream order to a correlate.Engine, and stores each episode update as
// one alert row per involved organisation (same alert id, that
// organisation's share of the events, a growing version), published on
// kuzet.alerts.<oisc>.<sector> like every alert, where the incident stage
// picks them up.
//
// Signals travel in batches: one message per event envelope and partition
// (a JSON array, split past MaxSignalMessage bytes), Nats-Msg-Id
// <envelope id>/<partition>/<chunk>, so a redelivered envelope publishes
// its signals once, and a message costs JetStream once for the 20 to 40
// signals it carries, not once each. The engine counts each event id once
// per correlation and group, whatever reaches it twice. A message holding
// one signal object (as written before batches) is read too.
//
// Time is event time: the engine's watermark follows the signals. So that
// quiet episodes close while no signal comes, every Tick moves it on by
// the wall-clock time since the last signal arrived (the latest event time
// seen, plus the time since, less the allowed lateness): a backlog being
// caught up keeps the watermark at its own event times, an idle partition
// lets it run with the clock.
//
// The correlation rules are those of the rule set the ncc started with; a
// rule reload that changes correlations takes effect at the next start
// (partition state is tied to the rules it was built with).
package correlation

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/stage"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// Group is the stage's name: its stream is KUZET_CORRELATE.
const Group = "correlate"

// Options configure the stage.
type Options struct {
	Set *correlate.Set
	// Partitions is the fixed number of correlation partitions.
	Partitions int
	Member     string
	Engine     correlate.Options
	// RuleSet is the version of the rule set, recorded on alerts.
	RuleSet    string
	Replicas   int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Heartbeat  time.Duration
	TTL        time.Duration
	Tick       time.Duration
}

// Stage is a running correlation stage.
type Stage struct {
	opts   Options
	st     *store.Store
	log    *slog.Logger
	runner *stage.Runner
	pub    *bus.AlertPublisher
	m      stageMetrics
}

type stageMetrics struct {
	applied, rejected *prometheus.CounterVec
	updates           prometheus.Counter
	// dropped counts groups evicted and events trimmed to keep the
	// windows within correlation.max_groups and max_bytes.
	dropped *prometheus.CounterVec
	// bytes and groups are each owned partition's state (the engine's
	// estimate), summed by the gauges; a partition not owned here is 0.
	bytes, groups []atomic.Int64
}

// Start starts this instance's share of the correlation partitions.
func Start(ctx context.Context, js jetstream.JetStream, st *store.Store, o Options) (*Stage, error) {
	if o.Set == nil {
		return nil, errors.New("correlation: no rule set")
	}
	if o.Partitions <= 0 {
		o.Partitions = 16
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Engine == (correlate.Options{}) {
		o.Engine = correlate.DefaultOptions()
	}
	// Chains stay inside a partition's engine: a chained correlation sees
	// the episodes of the upstream groups that share its partition.
	o.Engine.NoChain = false
	s := &Stage{opts: o, st: st, log: o.Logger.With("stage", Group),
		pub: bus.NewAlertPublisher(js, bus.DefaultAlertPublisherOptions()), m: newStageMetrics(o.Partitions)}
	if o.Registerer != nil {
		for _, c := range s.collectors() {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	var err error
	s.runner, err = stage.Start(ctx, js, stage.Options{Group: Group, Count: o.Partitions, Member: o.Member,
		New: s.newProcessor, Tick: o.Tick, Heartbeat: o.Heartbeat, TTL: o.TTL, Replicas: o.Replicas, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newStageMetrics(partitions int) stageMetrics {
	return stageMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_correlate_signals_total",
			Help: "Signals applied to correlation windows, by result."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_correlate_signals_rejected_total",
			Help: "Signals rejected by the correlation engine or not decoded, by reason."}, []string{"reason"}),
		updates: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_correlate_alert_updates_total",
			Help: "Correlation alert updates (episode opened, updated, closed) stored."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_correlate_state_dropped_total",
			Help: "Correlation state dropped to stay within correlation.max_groups and max_bytes: groups evicted (least recently updated first) and events trimmed from a group larger than max_bytes alone."}, []string{"what"}),
		bytes: make([]atomic.Int64, partitions), groups: make([]atomic.Int64, partitions),
	}
}

// collectors are the stage's metrics, the state gauges included.
func (s *Stage) collectors() []prometheus.Collector {
	sum := func(v []atomic.Int64) func() float64 {
		return func() float64 {
			var t int64
			for i := range v {
				t += v[i].Load()
			}
			return float64(t)
		}
	}
	return []prometheus.Collector{s.m.applied, s.m.rejected, s.m.updates, s.m.dropped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kuzet_correlate_state_bytes",
			Help: "Estimated bytes of the correlation windows of the partitions this ncc owns (each bounded by correlation.max_bytes)."}, sum(s.m.bytes)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kuzet_correlate_state_groups",
			Help: "Correlation groups kept by the partitions this ncc owns (each bounded by correlation.max_groups)."}, sum(s.m.groups)),
	}
}

// Stop stops the partitions (each checkpoints).
func (s *Stage) Stop(ctx context.Context) error { return s.runner.Stop(ctx) }

// Owned returns the correlation partitions this instance owns.
func (s *Stage) Owned() []int { return s.runner.Owned() }

// SignalGroup is the signals of one event envelope, in its events' order.
type SignalGroup struct {
	// Key identifies the envelope (its batch id): the same envelope
	// delivered again gives the same key and the same signals.
	Key     string
	Signals []correlate.Signal
}

// MaxSignalMessage bounds a signal message's body: a partition's signals
// of one envelope beyond it go in further messages.
const MaxSignalMessage = 256 << 10

// Publish stores the groups' signals on their partitions with pub, one
// message per group and partition (Nats-Msg-Id <key>/<partition>/<chunk>,
// each once). It returns when JetStream has them all.
func Publish(ctx context.Context, pub *bus.AlertPublisher, groups []SignalGroup, partitions int) error {
	msgs, err := SignalMessages(groups, partitions)
	if err != nil {
		return err
	}
	return pub.PublishMessages(ctx, msgs)
}

// SignalMessages encodes the groups' signals as Publish publishes them.
func SignalMessages(groups []SignalGroup, partitions int) ([]bus.Message, error) {
	var msgs []bus.Message
	per := make([][]correlate.Signal, max(partitions, 1))
	var scratch []byte
	for _, g := range groups {
		for i := range per {
			per[i] = per[i][:0]
		}
		for _, sig := range g.Signals {
			p := correlate.Partition(sig.Correlation, sig.Group, partitions)
			per[p] = append(per[p], sig)
		}
		for p, sigs := range per {
			chunk := 0
			var body []byte
			for i := range sigs {
				data, err := appendSignal(scratch[:0], &sigs[i])
				if err != nil {
					return nil, err
				}
				scratch = data
				// With its comma and the closing bracket, sig must fit.
				if len(body) > 0 && len(body)+1+len(data)+1 > MaxSignalMessage {
					msgs = append(msgs, signalMessage(g.Key, p, chunk, append(body, ']')))
					chunk, body = chunk+1, nil
				}
				if len(body) == 0 {
					body = append(make([]byte, 0, min(MaxSignalMessage, (len(data)+1)*(len(sigs)-i)+1)), '[')
				} else {
					body = append(body, ',')
				}
				body = append(body, data...)
			}
			if len(body) > 0 {
				msgs = append(msgs, signalMessage(g.Key, p, chunk, append(body, ']')))
			}
		}
	}
	return msgs, nil
}

func signalMessage(key string, part, chunk int, body []byte) bus.Message {
	return bus.Message{Subject: bus.StageSubject(Group, part),
		ID: key + "/" + strconv.Itoa(part) + "/" + strconv.Itoa(chunk), Data: body}
}

// EnsureStream creates the stage's stream (stage 1 publishes before any
// partition may be owned).
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	so := bus.DefaultStageStreamOptions()
	so.Replicas = replicas
	return bus.EnsureStageStream(ctx, js, Group, so)
}

type processor struct {
	s    *Stage
	part int
	eng  *correlate.Engine
	// seen is the engine's counters when last reported.
	seen correlate.Counters
	// latest is the latest event time seen and arrived when it was seen
	// (wall clock), for Tick's watermark.
	latest, arrived time.Time
}

func (s *Stage) newProcessor(part int) stage.Processor { return &processor{s: s, part: part} }

// report publishes the partition's state size and what it dropped since
// the last report.
func (p *processor) report() {
	c := p.eng.Counters()
	if d := c.Evicted - p.seen.Evicted; d > 0 {
		p.s.m.dropped.WithLabelValues("groups_evicted").Add(float64(d))
	}
	if d := c.Trimmed - p.seen.Trimmed; d > 0 {
		p.s.m.dropped.WithLabelValues("events_trimmed").Add(float64(d))
	}
	p.seen = c
	if p.part >= 0 && p.part < len(p.s.m.bytes) {
		p.s.m.bytes[p.part].Store(p.eng.Bytes())
		p.s.m.groups[p.part].Store(int64(p.eng.Groups()))
	}
}

// Close clears the partition's gauges: another member owns it now.
func (p *processor) Close() {
	if p.part >= 0 && p.part < len(p.s.m.bytes) {
		p.s.m.bytes[p.part].Store(0)
		p.s.m.groups[p.part].Store(0)
	}
}

func (p *processor) Restore(state []byte) error {
	p.eng = correlate.NewEngine(p.s.opts.Set, p.s.opts.Engine)
	p.latest, p.arrived = time.Time{}, time.Now()
	if state == nil {
		return nil
	}
	if err := p.eng.Restore(state); err != nil {
		return err
	}
	// Drops counted by the snapshot's owner were reported there.
	p.seen = p.eng.Counters()
	p.report()
	if w := p.eng.Watermark(); w.Unix() > 0 {
		p.latest = w.Add(p.lateness())
	}
	return nil
}

func (p *processor) Snapshot() ([]byte, error) { return p.eng.Snapshot() }

func (p *processor) Process(ctx context.Context, msgs []bus.StageMsg) error {
	var ups []correlate.Update
	for _, m := range msgs {
		sigs, err := decodeSignals(m.Data)
		if err != nil {
			p.s.m.rejected.WithLabelValues("not_decoded").Inc()
			continue
		}
		for _, sig := range sigs {
			out, err := p.eng.Apply(sig)
			if err != nil {
				var se *correlate.SignalError
				reason := "invalid"
				if errors.As(err, &se) {
					reason = se.Reason
				}
				p.s.m.rejected.WithLabelValues(reason).Inc()
				continue
			}
			p.s.m.applied.WithLabelValues("applied").Inc()
			ups = append(ups, out...)
			if sig.Time.After(p.latest) {
				p.latest = sig.Time
			}
		}
	}
	if len(msgs) > 0 {
		p.arrived = time.Now()
	}
	p.report()
	return p.s.persist(ctx, ups)
}

func (p *processor) lateness() time.Duration {
	if p.s.opts.Engine.NoLateness {
		return 0
	}
	return p.s.opts.Engine.Lateness
}

func (p *processor) Tick(ctx context.Context, now time.Time) error {
	if p.latest.IsZero() {
		return nil
	}
	w := p.latest.Add(now.Sub(p.arrived)).Add(-p.lateness())
	if !w.After(p.eng.Watermark()) {
		return nil
	}
	ups := p.eng.Advance(w)
	p.report()
	return p.s.persist(ctx, ups)
}

// alerts turns an episode update into one alert per involved organisation.
func (s *Stage) alerts(u correlate.Update) []alert.Alert {
	c := s.opts.Set.Correlation(u.Rule)
	title, level := u.Rule, "medium"
	var tags []string
	if c != nil && c.Rule != nil {
		title, tags = c.Rule.Title, c.Rule.Tags
		if c.Rule.Level != "" {
			level = c.Rule.Level
		}
	}
	var attack []string
	for _, t := range tags {
		if strings.HasPrefix(t, "attack.") {
			attack = append(attack, t)
		}
	}
	group := map[string]string{}
	for i, k := range u.GroupBy {
		if i < len(u.Group) {
			group[k] = u.Group[i]
		}
	}
	out := make([]alert.Alert, 0, len(u.Shares))
	for _, sh := range u.Shares {
		a := alert.Alert{ID: u.AlertID, ReceivedAt: u.FirstSeen.UTC(), DetectedAt: u.FiredAt.UTC(), EventTime: u.FirstSeen.UTC(),
			LastSeen: u.LastSeen.UTC(), RuleID: u.Rule, RuleTitle: title, Level: level, Tags: tags, Attack: attack,
			EventIDs: sh.EventIDs, EventCount: sh.Count, OISC: sh.Share.OISC, Org: sh.Share.Org, Object: sh.Share.Object,
			Sector: sh.Share.Sector, Asset: "unknown", RuleSet: s.opts.RuleSet, Correlation: true, Version: u.Version,
			SourceIP: group["source.ip"], UserName: group["user.name"], HostName: group["host.name"]}
		if a.Org != "" {
			a.Asset = "known"
		}
		out = append(out, a)
	}
	return out
}

// persist stores the alert shares of the updates, then publishes them.
func (s *Stage) persist(ctx context.Context, ups []correlate.Update) error {
	if len(ups) == 0 {
		return nil
	}
	// Within one batch only each alert's latest version is written: the
	// row it would replace is never seen.
	last := make(map[[16]byte]int, len(ups))
	for i, u := range ups {
		last[u.AlertID] = i
	}
	var rows []alert.Alert
	for i, u := range ups {
		if last[u.AlertID] == i {
			rows = append(rows, s.alerts(u)...)
		}
	}
	if err := s.st.InsertAlerts(ctx, rows); err != nil {
		return err
	}
	if err := s.pub.Publish(ctx, rows); err != nil {
		return err
	}
	s.m.updates.Add(float64(len(ups)))
	return nil
}
