package incident

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Origin says who opened an incident (DOMAIN.md spellings).
type Origin string

// Origins.
const (
	OriginOISCDetected        Origin = "oisc_detected"
	OriginOwnerSelfIdentified Origin = "owner_self_identified"
	OriginNCCDetected         Origin = "ncc_detected"
	OriginThirdParty          Origin = "third_party"
	OriginKZCERT              Origin = "kz_cert"
)

// Determination is what an incident is, apart from where its handling
// stands (Status).
type Determination string

// Determinations; an automated incident starts suspected.
const (
	DeterminationSuspected     Determination = "suspected"
	DeterminationConfirmed     Determination = "confirmed"
	DeterminationFalsePositive Determination = "false_positive"
	DeterminationBlocked       Determination = "blocked"
	DeterminationFailedAttempt Determination = "failed_attempt"
)

// Valid reports whether d is one of the determinations.
func (d Determination) Valid() bool {
	switch d {
	case DeterminationSuspected, DeterminationConfirmed, DeterminationFalsePositive, DeterminationBlocked, DeterminationFailedAttempt:
		return true
	}
	return false
}

// TLP is a FIRST TLP 2.0 label without the "TLP:" prefix.
type TLP string

// TLP labels; incidents default to AMBER.
const (
	TLPRed         TLP = "RED"
	TLPAmberStrict TLP = "AMBER+STRICT"
	TLPAmber       TLP = "AMBER"
	TLPGreen       TLP = "GREEN"
	TLPClear       TLP = "CLEAR"
)

// Rank orders labels: CLEAR 0, GREEN 1, AMBER 2, AMBER+STRICT 3, RED 4;
// an empty label is AMBER, the default; an unknown one -1.
func (t TLP) Rank() int {
	switch t {
	case TLPClear:
		return 0
	case TLPGreen:
		return 1
	case TLPAmber, "":
		return 2
	case TLPAmberStrict:
		return 3
	case TLPRed:
		return 4
	}
	return -1
}

// ParseTLP accepts a label with or without "TLP:" in any case; legacy
// WHITE maps to CLEAR.
func ParseTLP(s string) (TLP, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "TLP:")
	switch TLP(u) {
	case TLPRed, TLPAmberStrict, TLPAmber, TLPGreen, TLPClear:
		return TLP(u), nil
	case "WHITE":
		return TLPClear, nil
	}
	return "", fmt.Errorf("unknown TLP %q", s)
}

// Alert is the grouping's input: one detection or correlation alert (the
// ncc fills it from its stored alert).
type Alert struct {
	ID        string   `json:"id"`
	RuleID    string   `json:"rule_id"`
	RuleTitle string   `json:"rule_title,omitempty"`
	Level     string   `json:"level"` // Sigma level: informational, low, medium, high, critical
	Tags      []string `json:"tags,omitempty"`
	Org       string   `json:"org"`
	Object    string   `json:"object,omitempty"`
	Sector    string   `json:"sector,omitempty"`
	OISC      string   `json:"oisc,omitempty"`
	// ObjectClass is the object's criticality class, 1 (highest) to 3;
	// 0 means unknown (no registered object).
	ObjectClass int       `json:"object_class,omitempty"`
	EventTime   time.Time `json:"event_time"`
	DetectedAt  time.Time `json:"detected_at"`
	// Entities are entity field values, e.g. {"source.ip": "203.0.113.7"}.
	Entities map[string]string `json:"entities,omitempty"`
	// Correlation is true for an alert of a correlation rule.
	Correlation bool `json:"correlation,omitempty"`
}

// InputError is a rejected alert; Reason is the metric label.
type InputError struct {
	AlertID string
	Reason  string
	Detail  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("incident: alert %q rejected (%s): %s", e.AlertID, e.Reason, e.Detail)
}

var levels = map[string]int{"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// Validate checks what grouping needs; the error is an [*InputError].
func (a *Alert) Validate() error {
	bad := func(reason, f string, args ...any) error {
		return &InputError{AlertID: a.ID, Reason: reason, Detail: fmt.Sprintf(f, args...)}
	}
	switch {
	case a.ID == "":
		return bad("missing_id", "no alert id")
	case a.Org == "":
		return bad("missing_org", "no organisation")
	case a.RuleID == "":
		return bad("missing_rule", "no rule id")
	case a.DetectedAt.IsZero():
		return bad("missing_time", "no detected_at")
	case a.ObjectClass < 0 || a.ObjectClass > 3:
		return bad("bad_object_class", "object class %d not in 1..3", a.ObjectClass)
	}
	if _, ok := levels[a.Level]; !ok {
		return bad("bad_level", "level %q", a.Level)
	}
	return nil
}

// Comment is an analyst's note on an incident.
type Comment struct {
	Author string    `json:"author"`
	At     time.Time `json:"at"`
	Text   string    `json:"text"`
}

// Task is a piece of work on an incident with a due date.
type Task struct {
	ID    string    `json:"id"`
	Title string    `json:"title"`
	Due   time.Time `json:"due,omitzero"`
	Done  bool      `json:"done,omitempty"`
}

// Incident is one case. Stage fields (the legal clocks) are added by the
// clock part of this package.
type Incident struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"` // the KV revision it was read at
	// ChangedFrom is the version a person's last change (an analyst's
	// PATCH, a declaration, a merge, a split) was made to: a client that
	// read a version after it has seen that change (see Stale).
	ChangedFrom uint64 `json:"changed_from,omitempty"`
	Title       string `json:"title"`
	Org         string `json:"org,omitempty"` // empty for a national incident
	// Orgs and Sectors are machine ids; a local incident has its own.
	Orgs          []string      `json:"orgs"`
	Sectors       []string      `json:"sectors"`
	ObjectIDs     []string      `json:"object_ids"`
	CenterID      string        `json:"center_id,omitempty"`
	Origin        Origin        `json:"origin"`
	Route         string        `json:"route,omitempty"`
	GroupKeys     []string      `json:"group_keys,omitempty"`
	RuleIDs       []string      `json:"rule_ids"`
	RSITClass     string        `json:"rsit_class"`
	RSITType      string        `json:"rsit_type"`
	Status        Status        `json:"status"`
	Resolution    Resolution    `json:"resolution,omitempty"`
	Determination Determination `json:"determination"`
	Criticality   int           `json:"criticality"`
	Severity      Severity      `json:"severity"`
	TLP           TLP           `json:"tlp"`
	// TLPRecipients name who may read the incident when it is TLP:RED
	// (principal names); below RED they are unused.
	TLPRecipients []string  `json:"tlp_recipients,omitempty"`
	Assignee      string    `json:"assignee,omitempty"`
	Comments      []Comment `json:"comments,omitempty"`
	Tasks         []Task    `json:"tasks,omitempty"`
	National      bool      `json:"national"`
	// Linked: for a national incident, its local incidents' ids.
	Linked      []string `json:"linked,omitempty"`
	DuplicateOf string   `json:"duplicate_of,omitempty"`
	// Merged are the incidents merged into this one.
	Merged []string `json:"merged,omitempty"`
	// Parent is the incident this one was split from; Children the ones
	// split from it.
	Parent   string              `json:"parent,omitempty"`
	Children []string            `json:"children,omitempty"`
	Entities map[string][]string `json:"entities,omitempty"`
	// Indicators are the values an analyst marked as indicators of
	// compromise, each "field=value" (an entity's, or one the analyst
	// adds): exports give each a STIX Indicator.
	Indicators []string `json:"indicators,omitempty"`
	AlertCount int      `json:"alert_count"`

	// Timestamps, UTC. FirstActivityAt and LastActivityAt: the earliest
	// and latest event time of its alerts (last seen). DetectedAt: the
	// first detection, by anyone (the earliest alert's detected_at).
	// AcknowledgedAt: the first analyst action (assign, comment, task,
	// status or determination change); with DetectedAt it gives MTTA.
	// AwareAt: the entity's awareness (NIS2/CER clocks).
	// ReasonablyBelievedAt: when it was reasonably believed to be a
	// covered incident (CIRCIA). DeclaredAt: declared an incident.
	// ContainedAt, ResolvedAt ("handled") and ClosedAt: when it entered
	// those statuses (MTTC, MTTR). OpenedAt: when grouping opened it, in
	// processing time.
	FirstActivityAt      time.Time `json:"first_activity_at,omitzero"`
	LastActivityAt       time.Time `json:"last_activity_at,omitzero"`
	DetectedAt           time.Time `json:"detected_at,omitzero"`
	AcknowledgedAt       time.Time `json:"acknowledged_at,omitzero"`
	AwareAt              time.Time `json:"aware_at,omitzero"`
	ReasonablyBelievedAt time.Time `json:"reasonably_believed_at,omitzero"`
	DeclaredAt           time.Time `json:"declared_at,omitzero"`
	ContainedAt          time.Time `json:"contained_at,omitzero"`
	ResolvedAt           time.Time `json:"resolved_at,omitzero"`
	ClosedAt             time.Time `json:"closed_at,omitzero"`
	OpenedAt             time.Time `json:"opened_at,omitzero"`
	// OpenSeq is the grouping partition's opening order (1, 2, ...): a
	// merge keeps the lowest, so replays at other times merge alike.
	OpenSeq uint64 `json:"open_seq,omitempty"`

	// Flags and instants the notification regimes read (DOMAIN.md).
	PersonalDataInvolved bool      `json:"personal_data_involved,omitempty"`
	Significant          bool      `json:"significant,omitempty"`
	RansomPaidAt         time.Time `json:"ransom_paid_at,omitzero"`
	RequestReceivedAt    time.Time `json:"request_received_at,omitzero"`
	// Ongoing is an analyst's setting of NIS2's ongoing flag (nil: ongoing
	// until contained).
	Ongoing *bool `json:"ongoing,omitempty"`
	// Stages are the legal notification clocks (Clocks.Compute).
	Stages []Stage `json:"stages,omitempty"`

	// What a declaration or a self-report says (DOMAIN.md, "Fields for an
	// incident notification"); grouping leaves them empty.
	Description string `json:"description,omitempty"`
	// FunctionalImpact: none, low, medium, high (CISA's scale).
	FunctionalImpact string `json:"functional_impact,omitempty"`
	// InformationImpact: none, privacy, proprietary, integrity,
	// availability (of information).
	InformationImpact []string `json:"information_impact,omitempty"`
	// Recoverability: regular, supplemented, extended, not_recoverable.
	Recoverability string `json:"recoverability,omitempty"`
	AttackVector   string `json:"attack_vector,omitempty"`
	MeasuresTaken  string `json:"measures_taken,omitempty"`
	// Affected counts systems, records and users (0: not known).
	Affected *Affected `json:"affected,omitempty"`
	// ReporterContacts are whom to ask (Order 481 asks for them).
	ReporterContacts []ReporterContact `json:"reporter_contacts,omitempty"`
	// ReportedBy names the API key or user that declared or reported it,
	// and RequestSHA256 the request that did (a retry with the same
	// idempotency key and another body is refused).
	ReportedBy    string `json:"reported_by,omitempty"`
	RequestSHA256 string `json:"request_sha256,omitempty"`
}

// Affected counts what an incident touched.
type Affected struct {
	Systems int `json:"systems,omitempty"`
	Records int `json:"records,omitempty"`
	Users   int `json:"users,omitempty"`
}

// ReporterContact is a person to contact about a reported incident.
type ReporterContact struct {
	Name  string `json:"name"`
	Role  string `json:"role,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// ClockInput is what the notification clocks read of the incident. An
// incident of a registered object is of a critical object: the registry
// holds critical objects only.
func (in *Incident) ClockInput() ClockInput {
	return ClockInput{IncidentID: in.ID, Org: in.Org, CenterID: in.CenterID, Sectors: in.Sectors, Origin: string(in.Origin), Determination: string(in.Determination),
		ObjectIsCritical: len(in.ObjectIDs) > 0, PersonalDataInvolved: in.PersonalDataInvolved, Significant: in.Significant,
		RansomPaid: !in.RansomPaidAt.IsZero(), Ongoing: in.Ongoing, DetectedAt: in.DetectedAt, AwareAt: in.AwareAt,
		ReasonablyBelievedAt: in.ReasonablyBelievedAt, RansomPaidAt: in.RansomPaidAt, RequestReceivedAt: in.RequestReceivedAt,
		ContainedAt: in.ContainedAt, ResolvedAt: in.ResolvedAt, Stages: in.Stages}
}

// Clone returns a deep copy.
func (in Incident) Clone() Incident {
	out := in
	out.Orgs = slices.Clone(in.Orgs)
	out.Sectors = slices.Clone(in.Sectors)
	out.ObjectIDs = slices.Clone(in.ObjectIDs)
	out.GroupKeys = slices.Clone(in.GroupKeys)
	out.RuleIDs = slices.Clone(in.RuleIDs)
	out.Comments = slices.Clone(in.Comments)
	out.Tasks = slices.Clone(in.Tasks)
	out.Linked = slices.Clone(in.Linked)
	out.Merged = slices.Clone(in.Merged)
	out.Children = slices.Clone(in.Children)
	out.Stages = slices.Clone(in.Stages)
	out.TLPRecipients = slices.Clone(in.TLPRecipients)
	out.Indicators = slices.Clone(in.Indicators)
	out.InformationImpact = slices.Clone(in.InformationImpact)
	out.ReporterContacts = slices.Clone(in.ReporterContacts)
	if in.Affected != nil {
		a := *in.Affected
		out.Affected = &a
	}
	if in.Entities != nil {
		out.Entities = make(map[string][]string, len(in.Entities))
		for k, v := range in.Entities {
			out.Entities[k] = slices.Clone(v)
		}
	}
	return out
}

// namespace of incident ids (UUIDv5); fixed forever.
var idSpace = uuid.MustParse("6f1f7d2e-4a0b-5c8e-9d3a-1b2c3d4e5f60")

// LocalID is the id of the local incident of (org, route, group key,
// epoch): a UUIDv5, so a replay gives the same id.
func LocalID(org, route, key string, epoch int) string {
	return uuid.NewSHA1(idSpace, []byte("local\x00"+org+"\x00"+route+"\x00"+key+"\x00"+strconv.Itoa(epoch))).String()
}

// SplitID is the id of the incident split from parent with alerts
// (sorted ids): the same split gives the same id.
func SplitID(parent string, alerts []string) string {
	as := slices.Clone(alerts)
	slices.Sort(as)
	return uuid.NewSHA1(idSpace, []byte("split\x00"+parent+"\x00"+strings.Join(as, "\x00"))).String()
}

// NationalID is the id of the national incident of one entity value and
// epoch.
func NationalID(field, value string, epoch int) string {
	return uuid.NewSHA1(idSpace, []byte("national\x00"+field+"\x00"+value+"\x00"+strconv.Itoa(epoch))).String()
}

// Partition is the partition of an organisation among n: FNV-1a (32 bit)
// of the org id modulo n. It is part of the checkpoint format: changing
// it moves organisations between partitions (pinned by a test).
func Partition(org string, n int) int {
	return hashMod(org, n)
}

// EntityPartition is the national stage's partition of an entity value:
// FNV-1a of "field=value" modulo n.
func EntityPartition(field, value string, n int) int {
	return hashMod(field+"="+value, n)
}

func hashMod(s string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(s))
	return int(h.Sum32() % uint32(n))
}

func unionAdd(s []string, v string) []string {
	if v == "" {
		return s
	}
	i, ok := slices.BinarySearch(s, v)
	if ok {
		return s
	}
	return slices.Insert(s, i, v)
}

func earliestOf(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func latestOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Stale reports whether a change made to version v (If-Match) must be
// refused as a conflict: v is ahead of the incident, or a person changed
// the incident since v. The system's writes (alerts joining, clocks,
// notifications sent) do not make v stale: an analyst who read the
// incident before a new alert joined changes it without a reload.
func (in *Incident) Stale(v uint64) bool {
	return v > in.Version || v < in.Version && v <= in.ChangedFrom
}
