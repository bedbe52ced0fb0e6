package grouping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/failpoint"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/stage"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// OutboxGroup is the notification stage: its stream KUZET_OUTBOX holds,
// per incident partition, the jobs (one per notification to send) and
// watches (one per pending stage with a clock) of every incident write.
//
// # Flow
//
//	incident write (grouping, a sent or acknowledged notification, ...)
//	  -> notify.Builder.Plan: jobs for the released, unsent notifications
//	     (payload snapshotted with its SHA-256), watches for pending stages
//	  -> published to kuzet.outbox.<partition> before the incident's
//	     compare-and-set, Nats-Msg-Id send/<notification id> and
//	     watch/<incident>/<regime>/<stage>/<due>: a write retried after a
//	     crash publishes nothing new, and a job exists for every
//	     notification the bucket holds unsent
//	  -> the outbox partition's owner attempts each job: it reads the
//	     incident from the bucket (a notification already sent is dropped:
//	     sent once across restarts), delivers by NATS, webhook or e-mail,
//	     logs the attempt in notification_log, and on success records
//	     sent_at on the incident (clocks recomputed: sent or late);
//	     failures retry with exponential backoff
//	  -> a watch past due whose stage is still pending raises a meta-alert
//	     (kuzet-notification-overdue) linked to the incident: stored, never
//	     published to KUZET_ALERTS, so it never enters grouping
//
// Acknowledgements on kuzet.notify.ack (a durable consumer any instance
// reads) set the notification's acknowledged_at.
const OutboxGroup = "outbox"

// MetaOverdueRule is the rule id of the meta-alert of an overdue stage.
const MetaOverdueRule = "kuzet-notification-overdue"

// NotifyOptions configure the notification stage; nil Options.Notify runs
// none (incidents still carry clocks).
type NotifyOptions struct {
	// Builder plans jobs (its Resolver also resolves the clocks'
	// recipients).
	Builder *notify.Builder
	// Webhook and Email are the channels besides NATS (nil: attempts on
	// them fail, logged).
	Webhook, Email notify.Channel
	// Backoff is the first retry delay, doubled per attempt up to
	// MaxBackoff (defaults 5 s and 10 min).
	Backoff, MaxBackoff time.Duration
	// Recheck is how often an overdue stage is read again (default 15 s).
	Recheck time.Duration
	// AttemptTimeout bounds one delivery (default 30 s).
	AttemptTimeout time.Duration
	// Now is the notification stage's clock (default time.Now).
	Now func() time.Time
}

func (o *NotifyOptions) defaults() {
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.Recheck <= 0 {
		o.Recheck = 15 * time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

type notifyMetrics struct {
	sent, failed, dropped *prometheus.CounterVec
	acks, ackRejected     prometheus.Counter
	ackReasons            *prometheus.CounterVec
	overdueRaised         *prometheus.CounterVec
	overdue               *overdueGauge
	jobs                  prometheus.Counter
}

// overdueGauge counts the stages this instance sees overdue, by regime and
// stage; each outbox partition owns its entries.
type overdueGauge struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	set  map[string]overdueEntry
}

type overdueEntry struct {
	part          int
	regime, stage string
}

func (g *overdueGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *overdueGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	counts := map[[2]string]int{}
	for _, e := range g.set {
		counts[[2]string{e.regime, e.stage}]++
	}
	g.mu.Unlock()
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

func (g *overdueGauge) put(key string, e overdueEntry) { g.mu.Lock(); g.set[key] = e; g.mu.Unlock() }
func (g *overdueGauge) del(key string)                 { g.mu.Lock(); delete(g.set, key); g.mu.Unlock() }
func (g *overdueGauge) dropPartition(part int) {
	g.mu.Lock()
	for k, e := range g.set {
		if e.part == part {
			delete(g.set, k)
		}
	}
	g.mu.Unlock()
}

func newNotifyMetrics(reg prometheus.Registerer) *notifyMetrics {
	m := &notifyMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_notifications_sent_total",
			Help: "Notifications delivered, by channel."}, []string{"channel"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_notification_attempts_failed_total",
			Help: "Notification delivery attempts that failed (retried with backoff), by channel."}, []string{"channel"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_notification_jobs_dropped_total",
			Help: "Notification jobs dropped unsent, by reason (already_sent, stage_closed, not_in_incident, not_released)."}, []string{"reason"}),
		acks: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_notification_acks_total",
			Help: "Acknowledgements applied to notifications."}),
		ackReasons: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_notification_acks_rejected_total",
			Help: "Acknowledgements rejected, by reason."}, []string{"reason"}),
		overdueRaised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_notification_overdue_total",
			Help: "Stages found unsent past due (a meta-alert raised on each), by regime and stage."}, []string{"regime", "stage"}),
		overdue: &overdueGauge{set: map[string]overdueEntry{}, desc: prometheus.NewDesc("kuzet_notification_stages_overdue",
			"Stages unsent past due now, in this instance's outbox partitions, by regime and stage.", []string{"regime", "stage"}, nil)},
		jobs: prometheus.NewCounter(prometheus.CounterOpts{Name: "kuzet_notification_outbox_published_total",
			Help: "Jobs and watches published to the outbox (repeats are dropped by the stream)."}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.dropped, m.acks, m.ackReasons, m.overdueRaised, m.overdue, m.jobs)
	}
	return m
}

// outboxMsg is one outbox message: a job or a watch.
type outboxMsg struct {
	Job   *notify.Job   `json:"job,omitempty"`
	Watch *notify.Watch `json:"watch,omitempty"`
}

// outbox publishes the jobs and watches of next that stored did not
// already have (stored's were published before stored was written).
func (s *Stage) outbox(ctx context.Context, stored *incident.Incident, next *incident.Incident) error {
	if s.notify == nil || next.National {
		return nil
	}
	had := map[string]bool{}
	if stored != nil {
		for _, id := range s.notify.Builder.PlanIDs(stored) {
			had[id] = true
		}
	}
	if ids := s.notify.Builder.PlanIDs(next); !slices.ContainsFunc(ids, func(id string) bool { return !had[id] }) {
		return nil // nothing new: no payload to build
	}
	jobs, watches, err := s.notify.Builder.Plan(next)
	if err != nil {
		return err
	}
	part := incident.Partition(next.Org, s.opts.Partitions)
	pub := func(id string, m outboxMsg) error {
		if had[id] {
			return nil
		}
		data, err := json.Marshal(m)
		if err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := bus.PublishStage(pctx, s.js, OutboxGroup, part, id, nil, data); err != nil {
			return err
		}
		s.nm.jobs.Inc()
		return nil
	}
	for i := range jobs {
		if err := pub(jobs[i].MsgID(), outboxMsg{Job: &jobs[i]}); err != nil {
			return err
		}
	}
	for i := range watches {
		if err := pub(watches[i].MsgID(), outboxMsg{Watch: &watches[i]}); err != nil {
			return err
		}
	}
	return nil
}

// outboxState is an outbox partition's checkpointed state.
type outboxState struct {
	Jobs    map[string]*jobState   `json:"jobs"`
	Watches map[string]*watchState `json:"watches"`
}

type jobState struct {
	Job       notify.Job `json:"job"`
	Attempts  int        `json:"attempts"`
	NextAt    time.Time  `json:"next_at,omitzero"`
	FirstSeen time.Time  `json:"first_seen"`
}

type watchState struct {
	Watch   notify.Watch `json:"watch"`
	Raised  bool         `json:"raised,omitempty"`
	CheckAt time.Time    `json:"check_at,omitzero"`
}

type outboxProcessor struct {
	s    *Stage
	part int
	st   outboxState
}

func (s *Stage) newOutbox(part int) stage.Processor { return &outboxProcessor{s: s, part: part} }

func (p *outboxProcessor) Restore(state []byte) error {
	p.st = outboxState{Jobs: map[string]*jobState{}, Watches: map[string]*watchState{}}
	p.s.nm.overdue.dropPartition(p.part)
	if state == nil {
		return nil
	}
	if err := json.Unmarshal(state, &p.st); err != nil {
		return err
	}
	if p.st.Jobs == nil {
		p.st.Jobs = map[string]*jobState{}
	}
	if p.st.Watches == nil {
		p.st.Watches = map[string]*watchState{}
	}
	for k, w := range p.st.Watches {
		if w.Raised {
			p.s.nm.overdue.put(k, overdueEntry{p.part, w.Watch.Regime, w.Watch.Stage})
		}
	}
	return nil
}

func (p *outboxProcessor) Snapshot() ([]byte, error) { return json.Marshal(p.st) }

// Close forgets this partition's overdue stages (another instance owns it now).
func (p *outboxProcessor) Close() { p.s.nm.overdue.dropPartition(p.part) }

func (p *outboxProcessor) Process(ctx context.Context, msgs []bus.StageMsg) error {
	for _, m := range msgs {
		var om outboxMsg
		if err := json.Unmarshal(m.Data, &om); err != nil {
			p.s.log.Warn("outbox message not decoded; skipped", "seq", m.Seq, "err", err)
			continue
		}
		if j := om.Job; j != nil && p.st.Jobs[j.NotificationID] == nil {
			p.st.Jobs[j.NotificationID] = &jobState{Job: *j, FirstSeen: m.Time}
		}
		if w := om.Watch; w != nil && p.st.Watches[w.Key()] == nil {
			p.st.Watches[w.Key()] = &watchState{Watch: *w}
		}
	}
	return nil
}

func (p *outboxProcessor) Tick(ctx context.Context, _ time.Time) error {
	now := p.s.notify.Now()
	var due []*jobState
	for _, j := range p.st.Jobs {
		if !j.NextAt.After(now) {
			due = append(due, j)
		}
	}
	sort.Slice(due, func(a, b int) bool { return due[a].Job.NotificationID < due[b].Job.NotificationID })
	for _, j := range due {
		if err := p.attempt(ctx, j, now); err != nil {
			return err
		}
	}
	for k, w := range p.st.Watches {
		if now.Before(w.Watch.DueAt) || now.Before(w.CheckAt) {
			continue
		}
		if err := p.check(ctx, k, w, now); err != nil {
			return err
		}
	}
	return nil
}

// findNotification returns the stage and notification of id in an incident.
func findNotification(in *incident.Incident, id string) (*incident.Stage, *incident.Notification) {
	for i := range in.Stages {
		for j := range in.Stages[i].Notifications {
			if in.Stages[i].Notifications[j].ID == id {
				return &in.Stages[i], &in.Stages[i].Notifications[j]
			}
		}
	}
	return nil, nil
}

func (s *Stage) readIncident(ctx context.Context, id string) (*incident.Incident, error) {
	val, rev, err := s.kv.Get(ctx, id)
	if err != nil || val == nil {
		return nil, err
	}
	var in incident.Incident
	if err := json.Unmarshal(val, &in); err != nil {
		return nil, fmt.Errorf("grouping: incident %s in the bucket: %w", id, err)
	}
	// An incident's version is its bucket revision (what If-Match and the
	// API's ETag name); the stored document does not carry it.
	in.Version = rev
	return &in, nil
}

func (p *outboxProcessor) drop(j *jobState, reason string) {
	p.s.nm.dropped.WithLabelValues(reason).Inc()
	delete(p.st.Jobs, j.Job.NotificationID)
}

func (p *outboxProcessor) logEntry(j *notify.Job, now time.Time, attempt int, outcome, detail string) store.NotificationLogEntry {
	return store.NotificationLogEntry{At: now, NotificationID: j.NotificationID, IncidentID: j.IncidentID, Org: j.Org,
		Regime: j.Regime, Stage: j.Stage, Recipient: j.Recipient, Kind: j.Kind, Channel: j.Channel, Attempt: attempt,
		Outcome: outcome, Detail: detail, PayloadSHA256: j.PayloadSHA256, Payload: string(j.Payload)}
}

// attempt tries one job: it is sent only while the bucket holds its
// notification unsent on a pending stage of a released incident.
func (p *outboxProcessor) attempt(ctx context.Context, j *jobState, now time.Time) error {
	s := p.s
	in, err := s.readIncident(ctx, j.Job.IncidentID)
	if err != nil {
		return err
	}
	var st *incident.Stage
	var n *incident.Notification
	if in != nil {
		st, n = findNotification(in, j.Job.NotificationID)
	}
	switch {
	case n == nil:
		// Published before its incident's write: the write lands in
		// milliseconds, or its retry republishes.
		if now.Sub(j.FirstSeen) > 10*time.Minute {
			p.drop(j, "not_in_incident")
			return nil
		}
		j.NextAt = now.Add(2 * time.Second)
		return nil
	case !n.SentAt.IsZero():
		p.drop(j, "already_sent")
		return nil
	case st.Status != incident.StagePending:
		p.drop(j, "stage_closed")
		return nil
	case !notify.Released(in, s.notify.Builder.Resolver.Registry()):
		if now.Sub(j.FirstSeen) > 24*time.Hour {
			p.drop(j, "not_released")
			return nil
		}
		j.NextAt = now.Add(time.Minute)
		return nil
	}
	job := j.Job
	job.Channel, job.Kind = n.Channel, n.Kind
	failpoint.Hit("notify.before_send")
	j.Attempts++
	derr := s.deliver(ctx, &job)
	entry := p.logEntry(&job, now, j.Attempts, store.DeliverySent, "")
	if derr != nil {
		entry.Outcome, entry.Detail = store.DeliveryFailed, derr.Error()
	}
	if err := s.st.InsertNotificationLog(ctx, []store.NotificationLogEntry{entry}); err != nil {
		return err
	}
	if derr != nil {
		s.nm.failed.WithLabelValues(job.Channel).Inc()
		backoff := s.notify.Backoff << min(j.Attempts-1, 20)
		j.NextAt = now.Add(min(backoff, s.notify.MaxBackoff))
		s.log.Warn("notification not delivered; retrying", "notification", job.NotificationID, "incident", job.IncidentID,
			"recipient", job.Recipient, "channel", job.Channel, "attempt", j.Attempts, "retry_in", j.NextAt.Sub(now), "err", derr)
		return nil
	}
	s.nm.sent.WithLabelValues(job.Channel).Inc()
	if _, err := s.markNotification(ctx, job.IncidentID, job.NotificationID, now, func(n *incident.Notification) bool {
		if !n.SentAt.IsZero() {
			return false
		}
		n.SentAt, n.Channel = now, job.Channel
		return true
	}, "notify", map[string]any{"notification_id": job.NotificationID, "recipient": job.Recipient, "channel": job.Channel,
		"regime": job.Regime, "stage": job.Stage, "payload_sha256": job.PayloadSHA256}); err != nil {
		return err
	}
	s.log.Info("notification sent", "notification", job.NotificationID, "incident", job.IncidentID, "regime", job.Regime,
		"stage", job.Stage, "recipient", job.Recipient, "channel", job.Channel, "attempt", j.Attempts)
	delete(p.st.Jobs, job.NotificationID)
	return nil
}

// deliver sends one job on its channel.
func (s *Stage) deliver(ctx context.Context, j *notify.Job) error {
	ctx, cancel := context.WithTimeout(ctx, s.notify.AttemptTimeout)
	defer cancel()
	ep, _ := notify.Endpoint(s.notify.Builder.Resolver.Registry(), j.Kind, j.Recipient)
	switch j.Channel {
	case registry.ChannelNATS:
		return bus.PublishNotification(ctx, s.js, j.Kind, j.Recipient, j.NotificationID,
			map[string]string{notify.HeaderNotificationID: j.NotificationID, notify.HeaderPayloadSHA256: j.PayloadSHA256}, j.Payload)
	case registry.ChannelWebhook:
		if s.notify.Webhook == nil {
			return errors.New("webhook: channel not configured")
		}
		return s.notify.Webhook.Deliver(ctx, j, ep)
	case registry.ChannelEmail:
		if s.notify.Email == nil {
			return errors.New("email: no SMTP relay configured (notifications.smtp.addr)")
		}
		return s.notify.Email.Deliver(ctx, j, ep)
	}
	return fmt.Errorf("unknown channel %q", j.Channel)
}

// markNotification changes one notification of an incident by
// compare-and-set (change reports whether it changed anything), recomputes
// the clocks and writes the incident with a history entry.
func (s *Stage) markNotification(ctx context.Context, incidentID, notificationID string, now time.Time,
	change func(*incident.Notification) bool, action string, detail map[string]any) (bool, error) {
	changed := false
	_, err := s.update(ctx, incidentID, now, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		changed = false
		if stored == nil {
			return incident.Incident{}, nil, errNoWrite
		}
		next := stored.Clone()
		next.Stages = cloneStages(stored.Stages)
		_, n := findNotification(&next, notificationID)
		if n == nil || !change(n) {
			return next, nil, errNoWrite
		}
		changed = true
		if s.opts.Clocks != nil {
			if stages, _, err := s.opts.Clocks.Compute(next.ClockInput(), now); err == nil {
				next.Stages = stages
			}
		}
		d, _ := json.Marshal(detail)
		return next, []store.IncidentLogEntry{{ID: entryID(incidentID, action+"/"+notificationID, now), IncidentID: incidentID,
			At: now, Actor: "system:notify", Action: action, Outcome: "applied", Detail: d}}, nil
	})
	return changed, err
}

func cloneStages(ss []incident.Stage) []incident.Stage {
	out := slices.Clone(ss)
	for i := range out {
		out[i].Notifications = slices.Clone(ss[i].Notifications)
		out[i].Flags = slices.Clone(ss[i].Flags)
	}
	return out
}

var metaSpace = uuid.MustParse("5e0c2b7a-9d41-4b8e-a6f3-2c1d0e9f8a7b")

// check looks again at an overdue watch: a stage still pending at the
// watched due time raises its meta-alert once; any other outcome ends the
// watch.
func (p *outboxProcessor) check(ctx context.Context, key string, w *watchState, now time.Time) error {
	s := p.s
	in, err := s.readIncident(ctx, w.Watch.IncidentID)
	if err != nil {
		return err
	}
	var st *incident.Stage
	if in != nil {
		for i := range in.Stages {
			if in.Stages[i].Regime == w.Watch.Regime && in.Stages[i].Stage == w.Watch.Stage {
				st = &in.Stages[i]
			}
		}
	}
	if st == nil || st.Status != incident.StagePending || !st.DueAt.Equal(w.Watch.DueAt) {
		delete(p.st.Watches, key)
		s.nm.overdue.del(key)
		return nil
	}
	w.CheckAt = now.Add(s.notify.Recheck)
	if w.Raised {
		return nil
	}
	a := overdueAlert(in, st, now)
	if err := s.st.InsertAlerts(ctx, []alert.Alert{a}); err != nil {
		return err
	}
	if err := s.st.LinkIncidentAlerts(ctx, []store.IncidentAlert{{IncidentID: in.ID, AlertID: a.ID.String(), Org: in.Org, LinkedAt: now}}); err != nil {
		return err
	}
	var rows []store.NotificationLogEntry
	for _, n := range st.Notifications {
		rows = append(rows, store.NotificationLogEntry{At: now, NotificationID: n.ID, IncidentID: in.ID, Org: in.Org,
			Regime: st.Regime, Stage: st.Stage, Recipient: n.Recipient, Kind: n.Kind, Channel: n.Channel, Outcome: store.DeliveryOverdue,
			Detail: "unsent past due " + st.DueAt.UTC().Format(time.RFC3339) + "; meta-alert " + a.ID.String()})
	}
	if err := s.st.InsertNotificationLog(ctx, rows); err != nil {
		return err
	}
	w.Raised = true
	s.nm.overdueRaised.WithLabelValues(st.Regime, st.Stage).Inc()
	s.nm.overdue.put(key, overdueEntry{p.part, st.Regime, st.Stage})
	s.log.Warn("notification stage overdue", "incident", in.ID, "regime", st.Regime, "stage", st.Stage, "due_at", st.DueAt, "meta_alert", a.ID)
	return nil
}

// overdueAlert is the meta-alert of a stage unsent past due: its id is
// derived from the stage and its due time, so a recheck or a replay
// recreates the same alert.
func overdueAlert(in *incident.Incident, st *incident.Stage, now time.Time) alert.Alert {
	id := uuid.NewSHA1(metaSpace, []byte(in.ID+"|"+st.Regime+"|"+st.Stage+"|"+st.DueAt.UTC().Format(time.RFC3339)))
	a := alert.Alert{ID: id, ReceivedAt: st.DueAt.UTC(), DetectedAt: now.UTC(), EventTime: st.DueAt.UTC(), RuleID: MetaOverdueRule,
		RuleTitle: fmt.Sprintf("Notification overdue: %s/%s of incident %s", st.Regime, st.Stage, in.ID), Level: "high",
		Tags: []string{"kuzet.meta", "kuzet.notification_overdue"}, EventIDs: []string{}, Attack: []string{}, Collector: "ncc",
		OISC: in.CenterID, Org: in.Org, Asset: "incident:" + in.ID, RuleSet: "kuzet-meta"}
	if len(in.Sectors) > 0 {
		a.Sector = in.Sectors[0]
	}
	if len(in.ObjectIDs) > 0 {
		a.Object = in.ObjectIDs[0]
	}
	return a
}

// acks applies acknowledgements until ctx ends.
func (s *Stage) acks(ctx context.Context, cons jetstream.Consumer) {
	s.consume(ctx, cons, 64, "notification acknowledgements", func(ctx context.Context, m jetstream.Msg) error {
		return s.ackOne(ctx, m.Data())
	})
}

// ackOne applies one acknowledgement; a rejected one is counted (and
// logged against its notification when that exists) and consumed. An
// error is a store or bucket failure, to retry.
func (s *Stage) ackOne(ctx context.Context, data []byte) error {
	a, err := notify.ParseAck(data)
	if err != nil {
		s.nm.ackReasons.WithLabelValues("malformed").Inc()
		s.log.Warn("notification acknowledgement rejected", "reason", "malformed", "err", err)
		return nil
	}
	sent, err := s.st.FindSentNotification(ctx, a.NotificationID)
	if errors.Is(err, store.ErrNotFound) {
		s.nm.ackReasons.WithLabelValues("unknown_notification").Inc()
		s.log.Warn("notification acknowledgement rejected", "reason", "unknown_notification", "notification", a.NotificationID)
		return nil
	}
	if err != nil {
		return err
	}
	now := s.notify.Now()
	reject := func(reason, detail string) error {
		s.nm.ackReasons.WithLabelValues(reason).Inc()
		s.log.Warn("notification acknowledgement rejected", "reason", reason, "notification", a.NotificationID, "recipient", a.Recipient)
		return s.st.InsertNotificationLog(ctx, []store.NotificationLogEntry{{At: now, NotificationID: a.NotificationID,
			IncidentID: sent.IncidentID, Org: sent.Org, Recipient: a.Recipient, Outcome: store.DeliveryAckRejected, Detail: reason + ": " + detail}})
	}
	if a.Recipient != sent.Recipient {
		return reject("wrong_recipient", "sent to "+sent.Recipient)
	}
	at := a.At
	// A recipient's clock is its own: an instant in the future is now, one
	// before the sending is the sending.
	if at.IsZero() || at.After(now) {
		at = now
	}
	if at.Before(sent.SentAt) {
		at = sent.SentAt
	}
	var regime, stg string
	changed, err := s.markNotification(ctx, sent.IncidentID, a.NotificationID, now, func(n *incident.Notification) bool {
		if !n.AcknowledgedAt.IsZero() || n.Recipient != a.Recipient {
			return false
		}
		n.AcknowledgedAt = at
		return true
	}, "acknowledge", map[string]any{"notification_id": a.NotificationID, "recipient": a.Recipient, "at": at})
	if err != nil {
		return err
	}
	if !changed {
		s.nm.ackReasons.WithLabelValues("repeated").Inc()
		return nil
	}
	if in, err := s.readIncident(ctx, sent.IncidentID); err == nil && in != nil {
		if st, _ := findNotification(in, a.NotificationID); st != nil {
			regime, stg = st.Regime, st.Stage
		}
	}
	s.nm.acks.Inc()
	s.log.Info("notification acknowledged", "notification", a.NotificationID, "incident", sent.IncidentID, "recipient", a.Recipient, "at", at)
	return s.st.InsertNotificationLog(ctx, []store.NotificationLogEntry{{At: now, NotificationID: a.NotificationID,
		IncidentID: sent.IncidentID, Org: sent.Org, Regime: regime, Stage: stg, Recipient: a.Recipient,
		Outcome: store.DeliveryAcknowledged, Detail: "acknowledged at " + at.UTC().Format(time.RFC3339)}})
}
