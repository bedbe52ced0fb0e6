package incident

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Status is where the handling of an incident stands.
type Status string

// Statuses, in handling order.
const (
	StatusNew        Status = "new"
	StatusTriage     Status = "triage"
	StatusInProgress Status = "in_progress"
	StatusContained  Status = "contained"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
)

// Statuses lists every status in handling order.
var Statuses = []Status{StatusNew, StatusTriage, StatusInProgress, StatusContained, StatusResolved, StatusClosed}

// InvestigationStatus is the STIX Incident Core investigation_status.
func (s Status) InvestigationStatus() string {
	switch s {
	case StatusNew:
		return "new"
	case StatusClosed:
		return "closed"
	}
	return "open"
}

// Resolution is why an incident was closed.
type Resolution string

// Resolutions; closing needs one.
const (
	ResolutionHandled       Resolution = "handled"
	ResolutionFalsePositive Resolution = "false_positive"
	ResolutionDuplicate     Resolution = "duplicate"
	ResolutionBenign        Resolution = "benign"
)

// Valid reports whether r is one of the resolutions.
func (r Resolution) Valid() bool {
	switch r {
	case ResolutionHandled, ResolutionFalsePositive, ResolutionDuplicate, ResolutionBenign:
		return true
	}
	return false
}

// Action is the kind of a status change.
type Action string

// Actions.
const (
	ActionAdvance Action = "advance" // an analyst moves the incident on
	ActionClose   Action = "close"   // an analyst closes it, with a resolution
	ActionReopen  Action = "reopen"  // an analyst reopens a closed incident
	ActionMerge   Action = "merge"   // the system merges it into another (duplicate)
)

// Transition is one allowed status change.
type Transition struct {
	From, To Status
	Action   Action
	// System: only the system may make it (merging); otherwise only an
	// analyst.
	System bool
	// Resolution: the change must carry one (Fixed, if set, is the only
	// one allowed).
	Resolution bool
	Fixed      Resolution
}

// Transitions is the whole table of allowed status changes; anything not
// in it is rejected. Merging closes from any status.
var Transitions = func() []Transition {
	t := []Transition{
		{From: StatusNew, To: StatusTriage, Action: ActionAdvance},
		{From: StatusTriage, To: StatusInProgress, Action: ActionAdvance},
		{From: StatusInProgress, To: StatusContained, Action: ActionAdvance},
		{From: StatusContained, To: StatusResolved, Action: ActionAdvance},
		{From: StatusResolved, To: StatusClosed, Action: ActionClose, Resolution: true},
		{From: StatusClosed, To: StatusInProgress, Action: ActionReopen},
	}
	for _, s := range Statuses {
		t = append(t, Transition{From: s, To: StatusClosed, Action: ActionMerge, System: true, Resolution: true, Fixed: ResolutionDuplicate})
	}
	return t
}()

func findTransition(from, to Status, a Action) (Transition, bool) {
	for _, t := range Transitions {
		if t.From == from && t.To == to && t.Action == a {
			return t, true
		}
	}
	return Transition{}, false
}

// Errors callers can test for with errors.Is / errors.As.
var (
	// ErrTransition: the status change is not in [Transitions].
	ErrTransition = errors.New("transition not allowed")
	// ErrInvalid: a value in the change is not a valid one.
	ErrInvalid = errors.New("invalid change")
)

// ConflictError is a compare-and-set failure: the change was made against
// a version that is no longer the current one.
type ConflictError struct {
	ID         string
	Want, Have uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("incident %s: version conflict: change made at version %d, current is %d", e.ID, e.Want, e.Have)
}

// Change is one change to an incident's mutable state; zero fields are
// left as they are. Status changes need Action.
type Change struct {
	Actor  string    `json:"actor"`
	System bool      `json:"system,omitempty"`
	At     time.Time `json:"at"`

	Action        Action        `json:"action,omitempty"`
	Status        Status        `json:"status,omitempty"`
	Resolution    Resolution    `json:"resolution,omitempty"`
	DuplicateOf   string        `json:"duplicate_of,omitempty"`
	Determination Determination `json:"determination,omitempty"`
	Assignee      string        `json:"assignee,omitempty"`
	Comment       string        `json:"comment,omitempty"`
	Task          *Task         `json:"task,omitempty"`
	TLP           TLP           `json:"tlp,omitempty"`
	// TLPRecipients replace the named readers of a TLP:RED incident.
	TLPRecipients []string `json:"tlp_recipients,omitempty"`
	// MarkIndicators and UnmarkIndicators add and remove indicator
	// markings ("field=value").
	MarkIndicators   []string `json:"mark_indicators,omitempty"`
	UnmarkIndicators []string `json:"unmark_indicators,omitempty"`
	RSITClass        string   `json:"rsit_class,omitempty"`
	RSITType         string   `json:"rsit_type,omitempty"`
	Declared         bool     `json:"declared,omitempty"`
	// AwareAt and ReasonablyBelievedAt record those instants (the first
	// recorded one stays).
	AwareAt              time.Time `json:"aware_at,omitzero"`
	ReasonablyBelievedAt time.Time `json:"reasonably_believed_at,omitzero"`
}

// Outcome of one change attempt in the log.
type Outcome string

// Outcomes.
const (
	OutcomeApplied  Outcome = "applied"
	OutcomeConflict Outcome = "conflict"
	OutcomeRejected Outcome = "rejected"
)

// LogEntry is one row of incident_log: who, what, before, after, when.
type LogEntry struct {
	IncidentID string    `json:"incident_id"`
	Version    uint64    `json:"version"` // the version the change was made at
	Actor      string    `json:"actor"`
	System     bool      `json:"system"`
	At         time.Time `json:"at"`
	Change     Change    `json:"change"`
	Before     Status    `json:"before"`
	After      Status    `json:"after"`
	// Fields are the values the change altered, before and after (empty
	// unless applied).
	Fields  []FieldChange `json:"fields,omitempty"`
	Outcome Outcome       `json:"outcome"`
	Error   string        `json:"error,omitempty"`
}

// FieldChange is one altered value of a change.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// diff lists the mutable fields that differ between a and b.
func diff(a, b *Incident) []FieldChange {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	var out []FieldChange
	for _, f := range []struct{ name, a, b string }{
		{"status", string(a.Status), string(b.Status)},
		{"resolution", string(a.Resolution), string(b.Resolution)},
		{"duplicate_of", a.DuplicateOf, b.DuplicateOf},
		{"determination", string(a.Determination), string(b.Determination)},
		{"assignee", a.Assignee, b.Assignee},
		{"tlp", string(a.TLP), string(b.TLP)},
		{"tlp_recipients", strings.Join(a.TLPRecipients, ","), strings.Join(b.TLPRecipients, ",")},
		{"indicators", strings.Join(a.Indicators, ","), strings.Join(b.Indicators, ",")},
		{"rsit_class", a.RSITClass, b.RSITClass},
		{"rsit_type", a.RSITType, b.RSITType},
		{"comments", strconv.Itoa(len(a.Comments)), strconv.Itoa(len(b.Comments))},
		{"tasks", fmt.Sprint(a.Tasks), fmt.Sprint(b.Tasks)},
		{"acknowledged_at", ts(a.AcknowledgedAt), ts(b.AcknowledgedAt)},
		{"aware_at", ts(a.AwareAt), ts(b.AwareAt)},
		{"reasonably_believed_at", ts(a.ReasonablyBelievedAt), ts(b.ReasonablyBelievedAt)},
		{"declared_at", ts(a.DeclaredAt), ts(b.DeclaredAt)},
		{"contained_at", ts(a.ContainedAt), ts(b.ContainedAt)},
		{"resolved_at", ts(a.ResolvedAt), ts(b.ResolvedAt)},
		{"closed_at", ts(a.ClosedAt), ts(b.ClosedAt)},
	} {
		if f.a != f.b {
			out = append(out, FieldChange{Field: f.name, Before: f.a, After: f.b})
		}
	}
	return out
}

// Apply applies c to cur if version is not stale (cur.Stale: no person
// changed cur since version) and c is allowed; it returns the new incident (Version+1) and the log entry of
// the attempt, also when it fails. Errors: [*ConflictError],
// [ErrTransition], [ErrInvalid].
func Apply(cur Incident, version uint64, c Change) (Incident, LogEntry, error) {
	e := LogEntry{IncidentID: cur.ID, Version: version, Actor: c.Actor, System: c.System, At: c.At.UTC(),
		Change: c, Before: cur.Status, After: cur.Status}
	fail := func(o Outcome, err error) (Incident, LogEntry, error) {
		e.Outcome, e.Error = o, err.Error()
		return cur, e, err
	}
	if cur.Stale(version) {
		return fail(OutcomeConflict, &ConflictError{ID: cur.ID, Want: version, Have: cur.Version})
	}
	next, err := applyChange(cur.Clone(), c)
	if err != nil {
		return fail(OutcomeRejected, err)
	}
	if !c.System {
		next.ChangedFrom = cur.Version
	}
	next.Version = cur.Version + 1
	e.After, e.Outcome, e.Fields = next.Status, OutcomeApplied, diff(&cur, &next)
	return next, e, nil
}

func applyChange(in Incident, c Change) (Incident, error) {
	before := in.Clone()
	if c.Actor == "" && !c.System {
		return in, fmt.Errorf("%w: no actor", ErrInvalid)
	}
	at := c.At.UTC()
	if c.Action != "" {
		t, ok := findTransition(in.Status, c.Status, c.Action)
		if !ok {
			return in, fmt.Errorf("%w: %s %s -> %s", ErrTransition, c.Action, in.Status, c.Status)
		}
		if t.System != c.System {
			return in, fmt.Errorf("%w: %s %s -> %s is a %s transition", ErrTransition, c.Action, in.Status, c.Status, map[bool]string{true: "system", false: "analyst"}[t.System])
		}
		if t.Resolution && !c.Resolution.Valid() || t.Fixed != "" && c.Resolution != t.Fixed {
			return in, fmt.Errorf("%w: %s needs a resolution (handled, false_positive, duplicate, benign; merge: duplicate), got %q", ErrInvalid, c.Action, c.Resolution)
		}
		if !t.Resolution && c.Resolution != "" {
			return in, fmt.Errorf("%w: %s takes no resolution", ErrInvalid, c.Action)
		}
		if c.Action == ActionMerge {
			if c.DuplicateOf == "" || c.DuplicateOf == in.ID {
				return in, fmt.Errorf("%w: merge needs duplicate_of (another incident)", ErrInvalid)
			}
			in.DuplicateOf = c.DuplicateOf
		}
		in.Status = c.Status
		in.Resolution = c.Resolution
		switch c.Status {
		case StatusContained:
			in.ContainedAt = at
		case StatusResolved:
			in.ResolvedAt = at
		case StatusClosed:
			in.ClosedAt = at
		case StatusInProgress:
			if c.Action == ActionReopen {
				in.ClosedAt, in.Resolution, in.DuplicateOf = time.Time{}, "", ""
			}
		}
	} else if c.Status != "" || c.Resolution != "" || c.DuplicateOf != "" {
		return in, fmt.Errorf("%w: status, resolution and duplicate_of change only with an action", ErrInvalid)
	}
	if c.Determination != "" {
		if !c.Determination.Valid() {
			return in, fmt.Errorf("%w: determination %q", ErrInvalid, c.Determination)
		}
		in.Determination = c.Determination
	}
	if c.TLP != "" {
		t, err := ParseTLP(string(c.TLP))
		if err != nil {
			return in, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		in.TLP = t
	}
	if c.TLPRecipients != nil {
		in.TLPRecipients = slices.Clone(c.TLPRecipients)
	}
	for _, v := range c.MarkIndicators {
		f, val, ok := strings.Cut(v, "=")
		if !ok || f == "" || val == "" {
			return in, fmt.Errorf("%w: an indicator is field=value, not %q", ErrInvalid, v)
		}
		in.Indicators = unionAdd(in.Indicators, v)
	}
	if len(c.UnmarkIndicators) > 0 {
		in.Indicators = slices.DeleteFunc(slices.Clone(in.Indicators), func(v string) bool { return slices.Contains(c.UnmarkIndicators, v) })
	}
	if in.TLP == TLPRed && len(in.TLPRecipients) == 0 {
		return in, fmt.Errorf("%w: TLP:RED needs its named recipients (tlp_recipients)", ErrInvalid)
	}
	if c.RSITClass != "" || c.RSITType != "" {
		if !ValidRSIT(c.RSITClass, c.RSITType) {
			return in, fmt.Errorf("%w: RSIT %s:%s", ErrInvalid, c.RSITClass, c.RSITType)
		}
		in.RSITClass, in.RSITType = c.RSITClass, c.RSITType
	}
	if c.Assignee != "" {
		in.Assignee = c.Assignee
	}
	if c.Comment != "" {
		in.Comments = append(in.Comments, Comment{Author: c.Actor, At: at, Text: c.Comment})
	}
	if c.Task != nil {
		if c.Task.ID == "" || c.Task.Title == "" {
			return in, fmt.Errorf("%w: a task needs an id and a title", ErrInvalid)
		}
		i := slices.IndexFunc(in.Tasks, func(t Task) bool { return t.ID == c.Task.ID })
		if i < 0 {
			in.Tasks = append(in.Tasks, *c.Task)
		} else {
			in.Tasks[i] = *c.Task
		}
	}
	if c.Declared && in.DeclaredAt.IsZero() {
		in.DeclaredAt = at
	}
	if !c.AwareAt.IsZero() && in.AwareAt.IsZero() {
		in.AwareAt = c.AwareAt.UTC()
	}
	if !c.ReasonablyBelievedAt.IsZero() && in.ReasonablyBelievedAt.IsZero() {
		in.ReasonablyBelievedAt = c.ReasonablyBelievedAt.UTC()
	}
	if len(diff(&before, &in)) == 0 {
		return in, fmt.Errorf("%w: the change changes nothing", ErrInvalid)
	}
	// Any analyst change is an action on the incident.
	if !c.System && in.AcknowledgedAt.IsZero() {
		in.AcknowledgedAt = at
	}
	return in, nil
}

// Merge folds loser into survivor at an analyst's request (grouping's own
// merges come as [UpdateMerged]): survivor gets loser's alert count,
// rules, objects, sectors, entities and times; the returned change closes
// loser as its duplicate (a system transition, from any status), to apply
// with [Apply] at loser's version. Both must be of one organisation, or
// survivor national.
func Merge(survivor, loser Incident, at time.Time) (Incident, Change, error) {
	switch {
	case survivor.ID == loser.ID:
		return survivor, Change{}, fmt.Errorf("%w: an incident cannot merge into itself", ErrInvalid)
	case !survivor.National && survivor.Org != loser.Org:
		return survivor, Change{}, fmt.Errorf("%w: %s and %s are of different organisations", ErrInvalid, survivor.ID, loser.ID)
	case loser.DuplicateOf != "":
		return survivor, Change{}, fmt.Errorf("%w: %s is already a duplicate of %s", ErrInvalid, loser.ID, loser.DuplicateOf)
	case survivor.Status == StatusClosed:
		return survivor, Change{}, fmt.Errorf("%w: %s is closed", ErrInvalid, survivor.ID)
	}
	s := survivor.Clone()
	s.AlertCount += loser.AlertCount
	for _, v := range loser.RuleIDs {
		s.RuleIDs = unionAdd(s.RuleIDs, v)
	}
	for _, v := range loser.ObjectIDs {
		s.ObjectIDs = unionAdd(s.ObjectIDs, v)
	}
	for _, v := range loser.Sectors {
		s.Sectors = unionAdd(s.Sectors, v)
	}
	for _, v := range loser.Orgs {
		s.Orgs = unionAdd(s.Orgs, v)
	}
	for _, v := range append(slices.Clone(loser.Merged), loser.ID) {
		s.Merged = unionAdd(s.Merged, v)
	}
	for f, vs := range loser.Entities {
		if s.Entities == nil {
			s.Entities = map[string][]string{}
		}
		for _, v := range vs {
			s.Entities[f] = unionAdd(s.Entities[f], v)
		}
	}
	s.FirstActivityAt = earliestOf(s.FirstActivityAt, loser.FirstActivityAt)
	s.LastActivityAt = latestOf(s.LastActivityAt, loser.LastActivityAt)
	s.DetectedAt = earliestOf(s.DetectedAt, loser.DetectedAt)
	s.Criticality = max(s.Criticality, loser.Criticality)
	s.Severity = SeverityOf(s.Criticality)
	// Never a downgrade: the survivor carries the higher label, and a RED
	// one's recipients both had.
	if loser.TLP.Rank() > s.TLP.Rank() {
		s.TLP = loser.TLP
	}
	for _, v := range loser.TLPRecipients {
		s.TLPRecipients = unionAdd(s.TLPRecipients, v)
	}
	return s, Change{Actor: "system:merge", System: true, At: at, Action: ActionMerge, Status: StatusClosed,
		Resolution: ResolutionDuplicate, DuplicateOf: s.ID}, nil
}

// Split moves alerts (ids the caller read from parent's timeline) out of
// parent into a new incident of the same organisation, origin, center,
// category, TLP and criticality, status new and determination suspected,
// with id [SplitID]. The caller moves the alerts' links and recomputes the
// child's times from them.
func Split(parent Incident, alerts []string, at time.Time) (Incident, Incident, error) {
	if len(alerts) == 0 || len(alerts) >= parent.AlertCount {
		return parent, Incident{}, fmt.Errorf("%w: a split moves some of the incident's %d alerts, not %d", ErrInvalid, parent.AlertCount, len(alerts))
	}
	if parent.Status == StatusClosed {
		return parent, Incident{}, fmt.Errorf("%w: %s is closed", ErrInvalid, parent.ID)
	}
	child := Incident{ID: SplitID(parent.ID, alerts), Title: parent.Title + " (split)", Org: parent.Org,
		Orgs: slices.Clone(parent.Orgs), Sectors: slices.Clone(parent.Sectors), ObjectIDs: slices.Clone(parent.ObjectIDs),
		CenterID: parent.CenterID, Origin: parent.Origin, RuleIDs: slices.Clone(parent.RuleIDs),
		RSITClass: parent.RSITClass, RSITType: parent.RSITType, Status: StatusNew, Determination: DeterminationSuspected,
		Criticality: parent.Criticality, Severity: parent.Severity, TLP: parent.TLP, Parent: parent.ID,
		AlertCount: len(alerts), DetectedAt: parent.DetectedAt, FirstActivityAt: parent.FirstActivityAt,
		LastActivityAt: parent.LastActivityAt, OpenedAt: at}
	p := parent.Clone()
	p.AlertCount -= len(alerts)
	p.Children = unionAdd(p.Children, child.ID)
	return p, child, nil
}

// Ledger is an in-memory reference of the compare-and-set store the ncc
// keeps in a JetStream KV bucket: every attempt, applied or not, is in its
// log. It is safe for concurrent use (one mutex, no other locks).
type Ledger struct {
	mu        sync.Mutex
	incidents map[string]Incident
	log       []LogEntry
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{incidents: map[string]Incident{}} }

// Put stores a new incident at version 1; it fails with a
// [*ConflictError] if the id exists.
func (l *Ledger) Put(in Incident) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.incidents[in.ID]; ok {
		return &ConflictError{ID: in.ID, Want: 0, Have: cur.Version}
	}
	in.Version = 1
	l.incidents[in.ID] = in.Clone()
	return nil
}

// Get returns the current incident.
func (l *Ledger) Get(id string) (Incident, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	in, ok := l.incidents[id]
	return in.Clone(), ok
}

// Update applies c made at version; see [Apply].
func (l *Ledger) Update(id string, version uint64, c Change) (Incident, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.incidents[id]
	if !ok {
		return Incident{}, fmt.Errorf("%w: no incident %s", ErrInvalid, id)
	}
	next, e, err := Apply(cur, version, c)
	l.log = append(l.log, e)
	if err != nil {
		return cur.Clone(), err
	}
	l.incidents[id] = next
	return next.Clone(), nil
}

// Log returns a copy of the log.
func (l *Ledger) Log() []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}
