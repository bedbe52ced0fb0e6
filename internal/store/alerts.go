package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
)

const alertColumns = "alert_id, received_at, detected_at, event_time, rule_id, rule_title, level, tags, attack, event_ids, " +
	"collector, oisc, org, object, sector, asset, criticality, host_name, source_ip, user_name, ruleset, doc, version, correlation, event_count"

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// InsertAlerts writes alerts in one INSERT, one row each with its JSON as
// the doc; rewriting an alert id is harmless.
func (s *Store) InsertAlerts(ctx context.Context, alerts []alert.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, 0, len(alerts))
	for i := range alerts {
		row, err := alertRow(&alerts[i])
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	return s.insert(ctx, "alerts", alertColumns, rows...)
}

// alertRow adapts an alert to the values of alertColumns.
func alertRow(a *alert.Alert) ([]any, error) {
	doc, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return []any{a.ID, a.ReceivedAt.UTC(), a.DetectedAt.UTC(), clampTime(a.EventTime, a.ReceivedAt), a.RuleID,
		a.RuleTitle, a.Level, nonNil(a.Tags), nonNil(a.Attack), nonNil(a.EventIDs), a.Collector, a.OISC, a.Org, a.Object,
		a.Sector, a.Asset, uint8(a.Criticality), a.HostName, a.SourceIP, a.UserName, a.RuleSet, string(doc),
		a.Version, boolByte(a.Correlation), uint32(max(a.EventCount, len(a.EventIDs)))}, nil
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
	// IDs keeps only these alert ids; Triage only shares whose triage
	// status is one of these (store.TriageStatuses).
	IDs    []string
	Triage []string
	Limit  int
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
// StreamEvents does. Each document ends with its share's "triage"
// (AlertTriage; {"status":"new"} when no one triaged it).
func (s *Store) StreamAlerts(ctx context.Context, q AlertQuery, emit func(doc []byte) error) (string, error) {
	var w where
	s.alertConds(&w, q)
	return s.readPageDocs(ctx, "alerts", "received_at", "alert_id", s.alertTriageDocs(), &w, q.Limit, q.MaxBytes, q.Cursor, emit)
}

// alertConds adds q's conditions, its scope first.
func (s *Store) alertConds(w *where, q AlertQuery) {
	listConds(w, q.Scope, q.From, q.To, q.Sectors, q.Orgs, q.Objects, q.OISCs)
	w.in("level", q.Levels)
	w.in("rule_id", q.RuleIDs)
	if len(q.IDs) > 0 {
		w.add("has(?, toString(alert_id))", q.IDs)
	}
	s.triageConds(w, q.Triage)
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
