package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
)

// Alert is a detection: a rule that matched events. Its id is
// deterministic (rule and event ids), so a redelivered batch recreates the
// same alert, which the table keeps once.
type Alert struct {
	ID uuid.UUID `json:"alert_id"`
	// ReceivedAt is the matched event's received_at: immutable, so a
	// recreated alert lands in the same partition.
	ReceivedAt time.Time `json:"received_at"`
	DetectedAt time.Time `json:"detected_at"`
	EventTime  time.Time `json:"event_time"`
	RuleID     string    `json:"rule_id"`
	RuleTitle  string    `json:"rule_title"`
	Level      string    `json:"level"`
	Tags       []string  `json:"tags"`
	// Attack holds the ATT&CK tactics and techniques among the tags.
	Attack      []string `json:"attack"`
	EventIDs    []string `json:"event_ids"`
	Collector   string   `json:"collector"`
	OISC        string   `json:"oisc"`
	Org         string   `json:"org,omitempty"`
	Object      string   `json:"object,omitempty"`
	Sector      string   `json:"sector,omitempty"`
	Asset       string   `json:"asset"`
	Criticality int      `json:"criticality,omitempty"`
	HostName    string   `json:"host_name,omitempty"`
	SourceIP    string   `json:"source_ip,omitempty"`
	UserName    string   `json:"user_name,omitempty"`
	// RuleSet is the version (content hash) of the rule set that matched.
	RuleSet string `json:"ruleset"`
	// Correlation alerts: one row per involved organisation (its share of
	// the events), Version growing with every update of the episode, and
	// the episode's event count and latest event time. A detection alert
	// has version 0 and counts its one event.
	Correlation bool      `json:"correlation,omitempty"`
	Version     uint64    `json:"version,omitempty"`
	EventCount  int       `json:"event_count,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
}

const alertColumns = "alert_id, received_at, detected_at, event_time, rule_id, rule_title, level, tags, attack, event_ids, " +
	"collector, oisc, org, object, sector, asset, criticality, host_name, source_ip, user_name, ruleset, doc, version, correlation, event_count"

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// InsertAlerts writes alerts in one INSERT; rewriting an alert id is
// harmless.
func (s *Store) InsertAlerts(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, 0, len(alerts))
	for _, a := range alerts {
		doc, err := json.Marshal(a)
		if err != nil {
			return err
		}
		rows = append(rows, []any{a.ID, a.ReceivedAt.UTC(), a.DetectedAt.UTC(), clampTime(a.EventTime, a.ReceivedAt), a.RuleID,
			a.RuleTitle, a.Level, nonNil(a.Tags), nonNil(a.Attack), nonNil(a.EventIDs), a.Collector, a.OISC, a.Org, a.Object,
			a.Sector, a.Asset, uint8(a.Criticality), a.HostName, a.SourceIP, a.UserName, a.RuleSet, string(doc),
			a.Version, boolByte(a.Correlation), uint32(max(a.EventCount, len(a.EventIDs)))})
	}
	return s.insert(ctx, "alerts", alertColumns, rows...)
}

func clampTime(t, fallback time.Time) time.Time {
	if t.IsZero() || t.Year() < 1970 || t.Year() > 2105 {
		return fallback.UTC()
	}
	return t.UTC()
}

// AlertQuery selects alerts; empty fields do not restrict.
type AlertQuery struct {
	From, To time.Time
	Sectors  []string
	Orgs     []string
	Objects  []string
	OISCs    []string
	Levels   []string
	RuleIDs  []string
	Limit    int
	// MaxBytes bounds a page as EventQuery.MaxBytes does.
	MaxBytes int
	Cursor   string
	Scope    access.EventScope
}

// QueryAlerts returns a page of alerts, newest first, each once (FINAL).
func (s *Store) QueryAlerts(ctx context.Context, q AlertQuery) (EventPage, error) {
	var page EventPage
	next, err := s.StreamAlerts(ctx, q, collect(&page))
	if err != nil {
		return EventPage{}, err
	}
	page.Next = next
	return page, nil
}

// StreamAlerts is QueryAlerts handing each alert's JSON to emit as
// StreamEvents does.
func (s *Store) StreamAlerts(ctx context.Context, q AlertQuery, emit func(doc []byte) error) (string, error) {
	var w where
	listConds(&w, q.Scope, q.From, q.To, q.Sectors, q.Orgs, q.Objects, q.OISCs)
	w.in("level", q.Levels)
	w.in("rule_id", q.RuleIDs)
	return s.readPage(ctx, "alerts", "alert_id", &w, q.Limit, q.MaxBytes, q.Cursor, emit)
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
