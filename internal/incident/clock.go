package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// ClockInput is what the legal clocks of one incident depend on: its
// classification, its flags, its instants (zero = unknown) and the stages
// recorded with it by the previous computation, with their sends and
// acknowledgements.
type ClockInput struct {
	IncidentID string
	// Org, CenterID and Sectors locate the incident for recipients: its
	// organisation (empty for a national incident), the center that
	// detected it (the OISC) and its sectors.
	Org      string
	CenterID string
	Sectors  []string
	// Origin and Determination use DOMAIN.md's spellings (oisc_detected,
	// owner_self_identified, ncc_detected, third_party, kz_cert; suspected,
	// confirmed, false_positive, blocked, failed_attempt).
	Origin               string
	Determination        string
	ObjectIsCritical     bool
	PersonalDataInvolved bool
	Significant          bool
	RansomPaid           bool
	// Ongoing is an analyst's setting of the ongoing flag; nil means ongoing
	// until ContainedAt is set.
	Ongoing *bool
	// OngoingAtFinal is an analyst's setting of whether the incident was
	// ongoing when the final report fell due; nil derives it from ContainedAt.
	OngoingAtFinal *bool

	DetectedAt           time.Time // required
	AwareAt              time.Time
	ReasonablyBelievedAt time.Time
	RansomPaidAt         time.Time
	RequestReceivedAt    time.Time
	ContainedAt          time.Time
	ResolvedAt           time.Time

	// Stages are the stages recorded with the incident (the previous
	// Compute's result with the sends, acknowledgements and waivers recorded
	// since). Nil for a new incident.
	Stages []Stage
}

// StageStatus is where a stage stands.
type StageStatus string

// Stage statuses. Sent, late and waived are final: a later computation keeps
// such a stage as it is. Pending and superseded stages are re-evaluated.
const (
	StagePending    StageStatus = "pending"    // not yet sent
	StageSent       StageStatus = "sent"       // sent to every recipient by due_at
	StageLate       StageStatus = "late"       // sent, but after due_at
	StageWaived     StageStatus = "waived"     // an analyst decided it is not to be sent
	StageSuperseded StageStatus = "superseded" // no longer applies (regime or condition changed before it was sent)
)

func (s StageStatus) final() bool { return s == StageSent || s == StageLate || s == StageWaived }

// Flags on a stage.
const (
	// FlagAnchorFallback: the stage's anchor was unknown; its clock runs
	// from detected_at instead.
	FlagAnchorFallback = "anchor_fallback"
	// FlagCalendarYearMissing: due_at was counted through a year the
	// calendar lacks, on weekends alone.
	FlagCalendarYearMissing = "calendar_year_missing"
	// FlagAwaitingAnchor: the anchor is a later step (resolved_at, a stage's
	// sent_at, ...) not yet recorded; the clock has not started and due_at is
	// zero.
	FlagAwaitingAnchor = "awaiting_anchor"
	// FlagNoClock: the stage has no fixed time limit (due: null).
	FlagNoClock = "no_clock"
	// FlagUnknownStage: the recorded stage's regime or stage is no longer
	// configured; it is kept as it was.
	FlagUnknownStage = "unknown_stage"
)

// Stage is one stage of one regime for one incident: its clock and its
// notifications, one per recipient. It is stored with the incident.
type Stage struct {
	Regime   string    `json:"regime"`
	Stage    string    `json:"stage"`
	Anchor   string    `json:"anchor"`
	AnchorAt time.Time `json:"anchor_at,omitzero"`
	// DueAt is in UTC; zero when the stage has no clock or it has not started.
	DueAt  time.Time   `json:"due_at,omitzero"`
	Status StageStatus `json:"status"`
	// SentAt and AcknowledgedAt are the last of the notifications' once all
	// are sent (acknowledged); a stage without recipients carries its own,
	// recorded by the caller.
	SentAt         time.Time      `json:"sent_at,omitzero"`
	AcknowledgedAt time.Time      `json:"acknowledged_at,omitzero"`
	Flags          []string       `json:"flags,omitempty"`
	Notifications  []Notification `json:"notifications"`
}

// Overdue reports whether the stage is unsent past its due_at at now. A
// stage sent after due_at is late, not overdue.
func (s Stage) Overdue(now time.Time) bool {
	return s.Status == StagePending && !s.DueAt.IsZero() && now.After(s.DueAt)
}

// HasFlag reports whether the stage carries flag f.
func (s Stage) HasFlag(f string) bool { return slices.Contains(s.Flags, f) }

// Notification is one message of a stage to one recipient.
type Notification struct {
	// ID is NotificationID(incident, regime, stage, recipient).
	ID string `json:"id"`
	// Role is the stage's symbolic recipient (NCC, OWNER, ...); Recipient the
	// resolved recipient (a center or contact id), or Role when unresolved.
	Role      string `json:"role"`
	Recipient string `json:"recipient"`
	// Kind is the recipient's kind as the registry spells it (ncc, oisc,
	// sectoral_isc, authorized_body, org): with Recipient it names the NATS
	// subject kuzet.notify.<kind>.<recipient>.
	Kind           string    `json:"kind,omitempty"`
	Channel        string    `json:"channel,omitempty"`
	Language       string    `json:"language,omitempty"`
	SentAt         time.Time `json:"sent_at,omitzero"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
}

// Recipient is a resolved recipient of a symbolic one.
type Recipient struct {
	ID       string // center id, organisation contact id, ...
	Kind     string // ncc, oisc, sectoral_isc, authorized_body, org
	Channel  string // api, nats, email, webhook, ...
	Language string // kk, ru, en
}

// ResolveFunc resolves a symbolic recipient (NCC, OWNER, CONNECTED_CENTER,
// AUTHORIZED_BODY, SECTOR_CENTER) of an incident against the registry. It
// may return several recipients (an organisation's contacts), or none. It
// must not modify in. An error refuses the whole computation (reason
// "resolve"): a stage is never stored with recipients missing.
type ResolveFunc func(role string, in *ClockInput) ([]Recipient, error)

// notificationNamespace is the UUID v5 namespace of notification ids.
var notificationNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/kuzet-kz/kuzet/notification"))

// NotificationID is the deterministic id (UUID v5) of the notification of
// a stage to a recipient: the same inputs give the same id in every process,
// so a notification recomputed after a restart is the same notification.
func NotificationID(incidentID, regime, stage, recipient string) string {
	name := incidentID + "\x00" + regime + "\x00" + stage + "\x00" + recipient
	return uuid.NewSHA1(notificationNamespace, []byte(name)).String()
}

// PayloadSHA256 returns the hex SHA-256 of a payload snapshot.
func PayloadSHA256(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// SnapshotPayload encodes v as JSON (struct fields in order, map keys
// sorted: the same value gives the same bytes) and returns the bytes with
// their SHA-256.
func SnapshotPayload(v any) ([]byte, string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("payload snapshot: %w", err)
	}
	return b, PayloadSHA256(b), nil
}

// ClockWarning is a problem that did not stop a computation: the caller logs it
// (Clocks counts it through ClockOptions.Warned).
type ClockWarning struct {
	Reason string // calendar_year_missing, anchor_fallback, unknown_stage
	Regime string
	Stage  string
	Detail string
}

func (w ClockWarning) String() string {
	return fmt.Sprintf("%s/%s: %s: %s", w.Regime, w.Stage, w.Reason, w.Detail)
}

// ClockInputError is a ClockInput that cannot be computed; Reason is its
// metric label.
type ClockInputError struct {
	Reason string
	Detail string
}

func (e *ClockInputError) Error() string { return "incident clocks: " + e.Detail }

// ClockOptions configures Clocks.
type ClockOptions struct {
	Regimes *Regimes
	// Resolve resolves symbolic recipients; nil keeps them symbolic.
	Resolve ResolveFunc
	// Rejected and Warned count refused inputs and warnings by reason (an
	// ClockInputError's or a ClockWarning's Reason); the caller backs them with
	// Prometheus counters with a reason label (this domain package imports no
	// metrics client: it would pull in net/http). Nil counts nothing.
	Rejected, Warned func(reason string)
}

// Clocks computes the legal clocks of incidents from a regimes file. It is
// safe for concurrent use when its Resolve, Rejected and Warned are.
type Clocks struct {
	regimes          *Regimes
	resolve          ResolveFunc
	rejected, warned func(reason string)
}

// NewClocks returns Clocks for opts.
func NewClocks(opts ClockOptions) (*Clocks, error) {
	if opts.Regimes == nil {
		return nil, errors.New("incident clocks: no regimes")
	}
	c := &Clocks{regimes: opts.Regimes, resolve: opts.Resolve, rejected: opts.Rejected, warned: opts.Warned}
	if c.rejected == nil {
		c.rejected = func(string) {}
	}
	if c.warned == nil {
		c.warned = func(string) {}
	}
	return c, nil
}

// Compute returns the stages of every regime that applies to the incident
// at now, in regime and stage order, followed by recorded stages no longer
// configured (kept unchanged). Recorded stages that are sent, late or waived
// are kept with their due_at; pending ones are re-evaluated from the current
// input (an amendment moves their due_at), and become superseded when they
// no longer apply. On bad input it returns a *ClockInputError and the recorded
// stages unchanged, so nothing recorded is lost.
func (c *Clocks) Compute(in ClockInput, now time.Time) ([]Stage, []ClockWarning, error) {
	err := checkClockInput(&in)
	if err == nil && now.IsZero() {
		err = &ClockInputError{"missing_now", fmt.Sprintf("incident %s: no time to compute at (now is zero)", in.IncidentID)}
	}
	if err != nil {
		var ie *ClockInputError
		if errors.As(err, &ie) {
			c.rejected(ie.Reason)
		}
		return cloneClockStages(in.Stages), nil, err
	}
	type key struct{ regime, stage string }
	recorded := map[key]*Stage{}
	for i := range in.Stages {
		recorded[key{in.Stages[i].Regime, in.Stages[i].Stage}] = &in.Stages[i]
	}
	used := map[key]bool{}
	var out []Stage
	var warns []ClockWarning
	warn := func(reason, regime, stage, format string, args ...any) {
		warns = append(warns, ClockWarning{Reason: reason, Regime: regime, Stage: stage, Detail: fmt.Sprintf(format, args...)})
	}
	for ri := range c.regimes.Regimes {
		reg := &c.regimes.Regimes[ri]
		applies := reg.AppliesIf.holds(&in)
		// Pass 1: every stage's clock, as if it applied.
		cands := make([]Stage, len(reg.Stages))
		var stageWarns [][]ClockWarning
		for si := range reg.Stages {
			rule := &reg.Stages[si]
			k := key{reg.ID, rule.Stage}
			rec := recorded[k]
			if rec != nil && rec.Status.final() {
				cands[si] = cloneClockStage(*rec)
				if len(rec.Notifications) > 0 { // acknowledgements arrive after the send
					cands[si].AcknowledgedAt = lastOfAllNotifications(rec.Notifications, func(n Notification) time.Time { return n.AcknowledgedAt })
				}
				stageWarns = append(stageWarns, nil)
				continue
			}
			s, ws := stageClock(reg, rule, &in, cands[:si], rec)
			cands[si] = s
			stageWarns = append(stageWarns, ws)
		}
		// Pass 2: which stages apply.
		var finalDue time.Time
		for si := range reg.Stages {
			if reg.Stages[si].Stage == "final" {
				finalDue = cands[si].DueAt
			}
		}
		for si := range reg.Stages {
			rule := &reg.Stages[si]
			k := key{reg.ID, rule.Stage}
			rec := recorded[k]
			s := cands[si]
			used[k] = true
			if rec != nil && rec.Status.final() {
				out = append(out, s)
				continue
			}
			ok := applies && in.predicate(rule.If, true, s.DueAt, finalDue, now) &&
				!in.predicate(rule.Unless, false, s.DueAt, finalDue, now)
			// A stage without a clock exists only once its anchor is set
			// (NIS2's intermediate report: only when requested).
			if ok && rule.Due.None() && s.AnchorAt.IsZero() {
				ok = false
			}
			if !ok {
				if rec != nil {
					// A send recorded before the change stands; only an
					// unsent stage is superseded.
					sup := cloneClockStage(*rec)
					aggregateStage(&sup, rec.DueAt)
					if sup.Status == StagePending {
						sup.Status = StageSuperseded
					}
					out = append(out, sup)
				}
				continue
			}
			if err := c.notify(&s, rule, &in, rec); err != nil {
				c.rejected("resolve")
				return cloneClockStages(in.Stages), nil, err
			}
			for _, w := range stageWarns[si] {
				warn(w.Reason, w.Regime, w.Stage, "%s", w.Detail)
			}
			out = append(out, s)
		}
	}
	for i := range in.Stages {
		s := in.Stages[i]
		if used[key{s.Regime, s.Stage}] {
			continue
		}
		s = cloneClockStage(s)
		if !s.HasFlag(FlagUnknownStage) {
			s.Flags = append(s.Flags, FlagUnknownStage)
		}
		warn("unknown_stage", s.Regime, s.Stage, "recorded stage is not in the regimes file; kept as recorded")
		out = append(out, s)
	}
	for i := range out {
		stageToUTC(&out[i])
	}
	for _, w := range warns {
		c.warned(w.Reason)
	}
	return out, warns, nil
}

// stageClock computes the clock of a stage that is not final: its anchor, due
// and flags, with the sent_at recorded for it (what a later stage's
// stage.<name>.sent_at anchor reads).
func stageClock(reg *Regime, rule *StageRule, in *ClockInput, earlier []Stage, rec *Stage) (Stage, []ClockWarning) {
	s := Stage{Regime: reg.ID, Stage: rule.Stage, Anchor: rule.Anchor, Status: StagePending}
	var warns []ClockWarning
	at, fellBack, later := in.anchor(rule.Anchor, earlier)
	switch {
	case fellBack:
		s.Flags = append(s.Flags, FlagAnchorFallback)
		warns = append(warns, ClockWarning{Reason: "anchor_fallback", Regime: reg.ID, Stage: rule.Stage,
			Detail: rule.Anchor + " unknown; the clock runs from detected_at"})
	case later && at.IsZero():
		s.Flags = append(s.Flags, FlagAwaitingAnchor)
	}
	if !at.IsZero() {
		s.AnchorAt = at.UTC()
	}
	if rule.Due.None() {
		s.Flags = append(s.Flags, FlagNoClock)
	} else if !at.IsZero() {
		due, missing := rule.Due.After(at)
		s.DueAt = due
		if len(missing) > 0 {
			s.Flags = append(s.Flags, FlagCalendarYearMissing)
			warns = append(warns, ClockWarning{Reason: "calendar_year_missing", Regime: reg.ID, Stage: rule.Stage,
				Detail: fmt.Sprintf("calendar %s lacks %v: counted on weekends alone", rule.Due.Calendar.ID, missing)})
		}
	}
	if rec != nil {
		s.SentAt, s.AcknowledgedAt = rec.SentAt, rec.AcknowledgedAt
		if len(rec.Notifications) > 0 {
			s.SentAt = lastOfAllNotifications(rec.Notifications, func(n Notification) time.Time { return n.SentAt })
		}
	}
	return s, warns
}

// notify fills the notifications of an applying stage, one per resolved
// recipient, keeping what rec recorded of each, and sets its status.
func (c *Clocks) notify(s *Stage, rule *StageRule, in *ClockInput, rec *Stage) error {
	prev := map[string]Notification{}
	if rec != nil {
		for _, n := range rec.Notifications {
			prev[n.ID] = n
		}
	}
	s.Notifications = nil
	for _, role := range rule.Recipients {
		rs := []Recipient{{ID: role}}
		if c.resolve != nil {
			var err error
			if rs, err = c.resolve(role, in); err != nil {
				return fmt.Errorf("incident clocks: %s/%s: resolve %s: %w", s.Regime, s.Stage, role, err)
			}
		}
		for _, r := range rs {
			if slices.ContainsFunc(s.Notifications, func(n Notification) bool { return n.Recipient == r.ID }) {
				continue // one message per recipient, under its first role
			}
			n := Notification{ID: NotificationID(in.IncidentID, s.Regime, s.Stage, r.ID), Role: role,
				Recipient: r.ID, Kind: r.Kind, Channel: r.Channel, Language: r.Language}
			if p, ok := prev[n.ID]; ok {
				n.SentAt, n.AcknowledgedAt = p.SentAt, p.AcknowledgedAt
				if !p.SentAt.IsZero() { // sent: keep where it went
					n.Kind, n.Channel, n.Language = p.Kind, p.Channel, p.Language
				}
				delete(prev, n.ID)
			}
			s.Notifications = append(s.Notifications, n)
		}
	}
	// A notification already sent to a recipient no longer resolved stays.
	if rec != nil {
		for _, n := range rec.Notifications {
			if _, left := prev[n.ID]; left && !n.SentAt.IsZero() {
				s.Notifications = append(s.Notifications, n)
			}
		}
	}
	// A stage found sent is judged against the due in force when it was
	// sent, the recorded one, not against an amendment that arrived since.
	if rec != nil && !rec.DueAt.IsZero() {
		aggregateStage(s, rec.DueAt)
		if s.Status != StagePending {
			s.DueAt = rec.DueAt
		}
		return nil
	}
	aggregateStage(s, s.DueAt)
	return nil
}

// aggregateStage sets a stage's sent_at and acknowledged_at from its
// notifications (the last, once all have one) and its status from sent_at
// against due (unless waived).
func aggregateStage(s *Stage, due time.Time) {
	if len(s.Notifications) > 0 {
		s.SentAt, s.AcknowledgedAt = lastOfAllNotifications(s.Notifications, func(n Notification) time.Time { return n.SentAt }),
			lastOfAllNotifications(s.Notifications, func(n Notification) time.Time { return n.AcknowledgedAt })
	}
	if s.Status == StageWaived {
		return
	}
	switch {
	case s.SentAt.IsZero():
		s.Status = StagePending
	case !due.IsZero() && s.SentAt.After(due):
		s.Status = StageLate
	default:
		s.Status = StageSent
	}
}

func lastOfAllNotifications(ns []Notification, at func(Notification) time.Time) time.Time {
	var last time.Time
	for _, n := range ns {
		t := at(n)
		if t.IsZero() {
			return time.Time{}
		}
		if t.After(last) {
			last = t
		}
	}
	return last
}

func checkClockInput(in *ClockInput) error {
	switch {
	case in.IncidentID == "":
		return &ClockInputError{"missing_incident_id", "incident id missing"}
	case in.DetectedAt.IsZero():
		return &ClockInputError{"missing_detected_at", fmt.Sprintf("incident %s: detected_at missing: every clock falls back to it", in.IncidentID)}
	case !slices.Contains(regimeOrigins, in.Origin):
		return &ClockInputError{"bad_origin", fmt.Sprintf("incident %s: unknown origin %q", in.IncidentID, in.Origin)}
	case !slices.Contains(regimeDeterminations, in.Determination):
		return &ClockInputError{"bad_determination", fmt.Sprintf("incident %s: unknown determination %q", in.IncidentID, in.Determination)}
	}
	seen := map[[2]string]bool{}
	for _, s := range in.Stages {
		k := [2]string{s.Regime, s.Stage}
		if seen[k] {
			return &ClockInputError{"duplicate_stage", fmt.Sprintf("incident %s: stage %s/%s recorded twice", in.IncidentID, s.Regime, s.Stage)}
		}
		seen[k] = true
		switch s.Status {
		case StagePending, StageSent, StageLate, StageWaived, StageSuperseded:
		default:
			return &ClockInputError{"bad_stage_status", fmt.Sprintf("incident %s: stage %s/%s: unknown status %q", in.IncidentID, s.Regime, s.Stage, s.Status)}
		}
	}
	return nil
}

func (cond RegimeCondition) holds(in *ClockInput) bool {
	if len(cond.Origin) > 0 && !slices.Contains(cond.Origin, in.Origin) {
		return false
	}
	if len(cond.Determination) > 0 && !slices.Contains(cond.Determination, in.Determination) {
		return false
	}
	for _, b := range []struct {
		want *bool
		got  bool
	}{{cond.ObjectIsCritical, in.ObjectIsCritical}, {cond.PersonalDataInvolved, in.PersonalDataInvolved}, {cond.Significant, in.Significant}} {
		if b.want != nil && *b.want != b.got {
			return false
		}
	}
	return true
}

// anchor returns the anchor's instant. fellBack: a fact anchor was unknown
// and detected_at is returned. later: the anchor is a later step, zero
// until it happened.
func (in *ClockInput) anchor(name string, earlier []Stage) (at time.Time, fellBack, later bool) {
	if stage, ok := stageSentAnchor(name); ok {
		for _, s := range earlier {
			if s.Stage == stage {
				return s.SentAt, false, true
			}
		}
		return time.Time{}, false, true
	}
	switch name {
	case "detected_at":
		return in.DetectedAt, false, false
	case "aware_at", "reasonably_believed_at", "ransom_paid_at":
		t := map[string]time.Time{"aware_at": in.AwareAt, "reasonably_believed_at": in.ReasonablyBelievedAt, "ransom_paid_at": in.RansomPaidAt}[name]
		if t.IsZero() {
			return in.DetectedAt, true, false
		}
		return t, false, false
	case "request_received_at":
		return in.RequestReceivedAt, false, true
	case "contained_at":
		return in.ContainedAt, false, true
	case "resolved_at":
		return in.ResolvedAt, false, true
	}
	return time.Time{}, false, true // unreachable: ParseRegimes checked the name
}

// ongoingAt reports whether the incident was ongoing at t: the analyst's
// setting if any, else not yet contained at t.
func (in *ClockInput) ongoingAt(t time.Time) bool {
	if in.Ongoing != nil {
		return *in.Ongoing
	}
	return in.ContainedAt.IsZero() || in.ContainedAt.After(t)
}

// predicate evaluates an If or Unless name ("" gives empty). Ongoing is read
// at the stage's due once that has passed (the instant that decided which
// report was due), else at now.
func (in *ClockInput) predicate(name string, empty bool, due, finalDue, now time.Time) bool {
	at := func(t time.Time) time.Time {
		if !t.IsZero() && t.Before(now) {
			return t
		}
		return now
	}
	switch name {
	case "":
		return empty
	case "ongoing":
		return in.ongoingAt(at(due))
	case "was_ongoing_at_final":
		if in.OngoingAtFinal != nil {
			return *in.OngoingAtFinal
		}
		return in.ongoingAt(at(finalDue))
	case "ransom_paid":
		return in.RansomPaid
	case "personal_data_involved":
		return in.PersonalDataInvolved
	case "significant":
		return in.Significant
	case "object_is_critical":
		return in.ObjectIsCritical
	}
	return false
}

// stageToUTC puts every instant of a stage in UTC, as they are stored.
func stageToUTC(s *Stage) {
	for _, t := range []*time.Time{&s.AnchorAt, &s.DueAt, &s.SentAt, &s.AcknowledgedAt} {
		*t = t.UTC()
	}
	if s.Notifications == nil {
		s.Notifications = []Notification{} // stored and served as [], not null
	}
	for i := range s.Notifications {
		n := &s.Notifications[i]
		n.SentAt, n.AcknowledgedAt = n.SentAt.UTC(), n.AcknowledgedAt.UTC()
	}
}

func cloneClockStage(s Stage) Stage {
	s.Flags = slices.Clone(s.Flags)
	s.Notifications = slices.Clone(s.Notifications)
	return s
}

func cloneClockStages(ss []Stage) []Stage {
	if ss == nil {
		return nil
	}
	out := make([]Stage, len(ss))
	for i, s := range ss {
		out[i] = cloneClockStage(s)
	}
	return out
}
