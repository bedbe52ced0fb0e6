package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/incident"
)

// The incidents table is the queryable projection of the incidents whose
// mutable state lives in a JetStream KV bucket (compare-and-set by
// revision): one row per (incident, version), ReplacingMergeTree(version)
// keeps the latest, partitioned by the immutable detected_at. incident_log
// is the append-only history (who, what, before, after, when), idempotent
// by entry id; incident_alerts links alerts to incidents.
var incidentsMigration = migration{4, "incidents", []string{
	`CREATE TABLE IF NOT EXISTS {db}.incidents (
			incident_id UUID,
			version UInt64,
			detected_at DateTime,
			updated_at DateTime,
			title String,
			org String,
			orgs Array(String),
			sectors Array(String),
			objects Array(String),
			oisc String,
			origin String,
			status String,
			determination String,
			severity String,
			criticality UInt8,
			national UInt8,
			linked Array(String),
			alert_count UInt32,
			tlp String,
			rsit_class String,
			rsit_type String,
			doc String
		) ENGINE = ReplacingMergeTree(version)
		PARTITION BY toYYYYMM(detected_at)
		ORDER BY incident_id`,
	`CREATE TABLE IF NOT EXISTS {db}.incident_log (
			entry_id UUID,
			incident_id UUID,
			at DateTime,
			actor String,
			action String,
			outcome String,
			version UInt64,
			doc String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(at)
		ORDER BY (incident_id, at, entry_id)`,
	`CREATE TABLE IF NOT EXISTS {db}.incident_alerts (
			incident_id UUID,
			alert_id UUID,
			org String,
			linked_at DateTime
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(linked_at)
		ORDER BY (incident_id, alert_id)`,
}, nil, nil}

const incidentColumns = "incident_id, version, detected_at, updated_at, title, org, orgs, sectors, objects, oisc, origin, " +
	"status, determination, severity, criticality, national, linked, alert_count, tlp, rsit_class, rsit_type, doc, tlp_recipients, " +
	"acknowledged_at, contained_at, resolved_at"

// StoredIncident is an incident as the store keeps it: the domain incident
// (its Version the KV revision it was written at) and when it changed.
type StoredIncident struct {
	incident.Incident
	UpdatedAt time.Time `json:"updated_at"`
}

// InsertIncidents writes incident versions; a version written twice is kept
// once, and queries read the highest.
func (s *Store) InsertIncidents(ctx context.Context, ins []StoredIncident) error {
	if len(ins) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, 0, len(ins))
	for _, in := range ins {
		id, err := uuid.Parse(in.ID)
		if err != nil {
			return fmt.Errorf("store: incident id %q: %w", in.ID, err)
		}
		doc, err := json.Marshal(in)
		if err != nil {
			return err
		}
		national := uint8(0)
		if in.National {
			national = 1
		}
		detected := in.DetectedAt
		if detected.IsZero() {
			detected = in.OpenedAt
		}
		rows = append(rows, []any{id, in.Version, clampTime(detected, in.UpdatedAt), in.UpdatedAt.UTC(), in.Title, in.Org,
			nonNil(in.Orgs), nonNil(in.Sectors), nonNil(in.ObjectIDs), in.CenterID, string(in.Origin), string(in.Status),
			string(in.Determination), string(in.Severity), uint8(max(0, min(in.Criticality, 100))), national,
			nonNil(in.Linked), uint32(max(in.AlertCount, 0)), string(in.TLP), in.RSITClass, in.RSITType, string(doc), nonNil(in.TLPRecipients),
			instant(in.AcknowledgedAt), instant(in.ContainedAt), instant(in.ResolvedAt)})
	}
	if err := s.insert(ctx, "incidents", incidentColumns, rows...); err != nil {
		return err
	}
	return s.insertStages(ctx, ins)
}

// instant is a time as a stats column holds it: the epoch for unknown.
func instant(t time.Time) time.Time {
	if t.IsZero() || t.Year() < 1970 || t.Year() > 2105 {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// IncidentLogEntry is one line of an incident's history.
type IncidentLogEntry struct {
	ID         uuid.UUID       `json:"entry_id"`
	IncidentID string          `json:"incident_id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Outcome    string          `json:"outcome"`
	Version    uint64          `json:"version"`
	Detail     json.RawMessage `json:"detail,omitempty"`
}

// InsertIncidentLog appends history entries (idempotent by entry id).
func (s *Store) InsertIncidentLog(ctx context.Context, es []IncidentLogEntry) error {
	if len(es) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, 0, len(es))
	for _, e := range es {
		id, err := uuid.Parse(e.IncidentID)
		if err != nil {
			return fmt.Errorf("store: incident id %q: %w", e.IncidentID, err)
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return err
		}
		rows = append(rows, []any{e.ID, id, e.At.UTC(), e.Actor, e.Action, e.Outcome, e.Version, string(doc)})
	}
	return s.insert(ctx, "incident_log", "entry_id, incident_id, at, actor, action, outcome, version, doc", rows...)
}

// IncidentAlert links an alert (one organisation's share) to an incident.
type IncidentAlert struct {
	IncidentID string
	AlertID    string
	Org        string
	LinkedAt   time.Time
	// Unlinked records that the alert left the incident (a split moved it):
	// the latest row of a pair wins.
	Unlinked bool
}

// LinkIncidentAlerts records which alerts an incident holds.
func (s *Store) LinkIncidentAlerts(ctx context.Context, links []IncidentAlert) error {
	if len(links) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, 0, len(links))
	for _, l := range links {
		in, err1 := uuid.Parse(l.IncidentID)
		al, err2 := uuid.Parse(l.AlertID)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("store: link %s to %s: %w", l.AlertID, l.IncidentID, err)
		}
		unlinked := uint8(0)
		if l.Unlinked {
			unlinked = 1
		}
		rows = append(rows, []any{in, al, l.Org, l.LinkedAt.UTC(), unlinked})
	}
	return s.insert(ctx, "incident_alerts", "incident_id, alert_id, org, linked_at, unlinked", rows...)
}

// IncidentAlertIDs returns the ids of the alerts linked to an incident
// (each organisation's share once), oldest link first.
func (s *Store) IncidentAlertIDs(ctx context.Context, incidentID string) ([]IncidentAlert, error) {
	uid, err := uuid.Parse(incidentID)
	if err != nil {
		return nil, ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(ctx, "SELECT alert_id, org, linked_at FROM "+s.table("incident_alerts")+
		" FINAL WHERE incident_id = ? AND unlinked = 0 ORDER BY linked_at, alert_id", uid)
	if err != nil {
		return nil, classify("incident alerts", err)
	}
	defer rows.Close()
	var out []IncidentAlert
	for rows.Next() {
		var id uuid.UUID
		l := IncidentAlert{IncidentID: incidentID}
		if err := rows.Scan(&id, &l.Org, &l.LinkedAt); err != nil {
			return nil, classify("incident alerts", err)
		}
		l.AlertID = id.String()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("incident alerts", err)
	}
	return out, nil
}

// IncidentQuery selects incidents; empty fields do not restrict.
type IncidentQuery struct {
	// From and To bound detected_at.
	From, To      time.Time
	Statuses      []string
	Severities    []string
	Orgs, Sectors []string
	// National, when set, keeps only national (true) or local incidents.
	National *bool
	Limit    int
	MaxBytes int
	Cursor   string
	Scope    access.EventScope
}

// incidentScope restricts incidents to a principal's scope inside the
// query: a scoped principal sees local incidents of its organisation, OISC
// or sectors, never a national one (NCC roles only).
func incidentScope(w *where, sc access.EventScope) {
	tlpScope(w, sc)
	if sc.OISC == "" && sc.Org == "" && len(sc.Sectors) == 0 {
		return
	}
	w.add("national = 0")
	if sc.OISC != "" {
		w.add("oisc = ?", sc.OISC)
	}
	if sc.Org != "" {
		w.add("org = ?", sc.Org)
	}
	if len(sc.Sectors) > 0 {
		w.add("hasAny(sectors, ?)", sc.Sectors)
	}
}

// tlpScope withholds incidents above the scope's TLP ceiling: a label
// at or below it, or TLP:RED naming the reader among its recipients. An
// unlabelled incident is AMBER, the default.
func tlpScope(w *where, sc access.EventScope) {
	if sc.TLPMax == "" {
		return
	}
	labels := access.TLPAtOrBelow(sc.TLPMax)
	if slices.Contains(labels, "AMBER") {
		labels = append(labels, "")
	}
	w.add("(has(?, tlp) OR tlp = 'RED' AND has(tlp_recipients, ?))", labels, sc.Reader)
}

// StreamIncidents hands each incident's JSON (newest detected first) to
// emit, and returns the next page's cursor.
func (s *Store) StreamIncidents(ctx context.Context, q IncidentQuery, emit func(doc []byte) error) (string, error) {
	var w where
	incidentScope(&w, q.Scope)
	if !q.From.IsZero() {
		w.add("detected_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		w.add("detected_at < ?", q.To.UTC())
	}
	w.in("status", q.Statuses)
	w.in("severity", q.Severities)
	if len(q.Orgs) > 0 {
		w.add("hasAny(orgs, ?)", q.Orgs)
	}
	if len(q.Sectors) > 0 {
		w.add("hasAny(sectors, ?)", q.Sectors)
	}
	if q.National != nil {
		if *q.National {
			w.add("national = 1")
		} else {
			w.add("national = 0")
		}
	}
	return s.readPageBy(ctx, "incidents", "detected_at", "incident_id", &w, q.Limit, q.MaxBytes, q.Cursor, emit)
}

// ErrNotFound is returned for a record that does not exist or is outside
// the caller's scope (the two are not told apart).
var ErrNotFound = errors.New("not found")

// IncidentDetail is one incident with its timeline.
type IncidentDetail struct {
	Incident json.RawMessage   `json:"incident"`
	Alerts   []json.RawMessage `json:"alerts"`
	Log      []json.RawMessage `json:"log"`
}

// GetIncident returns an incident in scope with its alerts (the scope's
// shares) and its history, or ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string, sc access.EventScope, maxAlerts int) (IncidentDetail, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return IncidentDetail{}, ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var w where
	incidentScope(&w, sc)
	w.add("incident_id = ?", uid)
	var d IncidentDetail
	docs := func(sql string, args []any, into *[]json.RawMessage) error {
		return s.emitDocs(ctx, "incidents", sql, args, func(doc []byte) error {
			*into = append(*into, json.RawMessage(append([]byte(nil), doc...)))
			return nil
		})
	}
	var one []json.RawMessage
	if err := docs("SELECT doc FROM "+s.table("incidents")+" FINAL"+w.String()+" LIMIT 1", w.args, &one); err != nil {
		return IncidentDetail{}, err
	}
	if len(one) == 0 {
		return IncidentDetail{}, ErrNotFound
	}
	d.Incident = one[0]
	// Alerts: the linked alerts, only the shares of the caller's scope.
	var aw where
	scopeConds(&aw, sc)
	aw.add("alert_id IN (SELECT alert_id FROM "+s.table("incident_alerts")+" FINAL WHERE incident_id = ? AND unlinked = 0)", uid)
	if err := docs("SELECT doc FROM "+s.table("alerts")+" FINAL"+aw.String()+" ORDER BY event_time LIMIT ?",
		append(aw.args, max(maxAlerts, 1)), &d.Alerts); err != nil {
		return IncidentDetail{}, err
	}
	if err := docs("SELECT doc FROM "+s.table("incident_log")+" FINAL WHERE incident_id = ? ORDER BY at, entry_id LIMIT 1000",
		[]any{uid}, &d.Log); err != nil {
		return IncidentDetail{}, err
	}
	return d, nil
}
