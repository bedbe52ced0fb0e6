package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// alertTriageMigration adds alert_triage: the analysts' verdict on each
// alert share, one row per change, ReplacingMergeTree(version) keeping the
// latest per (alert_id, org). It is partitioned by the alert's immutable
// received_at, as the alerts table is, so every change of one share lands in
// the same partition and replaces the one before. doc is the triage as the
// API shows it inside an alert (AlertTriage's JSON).
var alertTriageMigration = migration{9, "alert triage", []string{
	`CREATE TABLE IF NOT EXISTS {db}.alert_triage (
		alert_id UUID,
		org String,
		received_at DateTime,
		status String,
		reason String,
		actor String,
		at DateTime,
		incident_id String,
		version UInt64,
		doc String
	) ENGINE = ReplacingMergeTree(version)
	PARTITION BY toYYYYMM(received_at)
	ORDER BY (alert_id, org)`,
}, nil, nil}

// Triage statuses. An alert share with no triage row is TriageNew.
const (
	TriageNew           = "new"
	TriageAcknowledged  = "acknowledged"
	TriageTruePositive  = "true_positive"
	TriageFalsePositive = "false_positive"
)

// TriageStatuses lists the triage statuses.
var TriageStatuses = []string{TriageNew, TriageAcknowledged, TriageTruePositive, TriageFalsePositive}

// untriagedDoc is the triage shown with an alert share no one triaged.
const untriagedDoc = `{"status":"new"}`

// AlertTriage is the triage of an alert share: its status, why, who set it
// and when, and the incident it was attached to.
type AlertTriage struct {
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	At         time.Time `json:"at,omitzero"`
	IncidentID string    `json:"incident_id,omitempty"`
}

// AlertShare names one organisation's share of an alert.
type AlertShare struct {
	AlertID    uuid.UUID `json:"alert_id"`
	Org        string    `json:"org"`
	ReceivedAt time.Time `json:"received_at"`
}

// triageConds keeps the alert shares whose triage status is one of
// statuses (a share never triaged is "new"), inside the query.
func (s *Store) triageConds(w *where, statuses []string) {
	if len(statuses) == 0 {
		return
	}
	for _, st := range statuses {
		if st == TriageNew {
			// New, or triaged back to new: every share but those with
			// another status outside the set.
			w.add("(alert_id, org) NOT IN (SELECT alert_id, org FROM "+s.table("alert_triage")+" FINAL WHERE NOT has(?, status))", statuses)
			return
		}
	}
	w.add("(alert_id, org) IN (SELECT alert_id, org FROM "+s.table("alert_triage")+" FINAL WHERE has(?, status))", statuses)
}

// alertTriageDocs reads alert documents with their triage spliced in as
// "triage" (the last member), {"status":"new"} for a share no one triaged.
func (s *Store) alertTriageDocs() *pageDocs {
	return &pageDocs{
		expr: "concat(substring(doc, 1, length(doc) - 1), ',\"triage\":', if(triage_doc = '', '" + untriagedDoc + "', triage_doc), '}')",
		join: func(ids []string) (string, []any) {
			return " ANY LEFT JOIN (SELECT alert_id, org, doc AS triage_doc FROM " + s.table("alert_triage") +
				" FINAL WHERE has(?, toString(alert_id))) USING (alert_id, org)", []any{ids}
		},
	}
}

// AlertShares returns the shares (alert id, organisation) of the alerts q
// selects, in q's scope, newest first, at most max+1 of them so that the
// caller can tell a selection larger than max. q.Limit, MaxBytes and Cursor
// are ignored.
func (s *Store) AlertShares(ctx context.Context, q AlertQuery, max int) ([]AlertShare, error) {
	var w where
	s.alertConds(&w, q)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(withDeadline(ctx), "SELECT DISTINCT alert_id, org, received_at FROM "+s.table("alerts")+" FINAL"+w.String()+
		" ORDER BY received_at DESC, alert_id DESC, org LIMIT ?", append(w.args, max+1)...)
	if err != nil {
		return nil, classify("query alert shares", err)
	}
	defer rows.Close()
	var out []AlertShare
	for rows.Next() {
		var sh AlertShare
		if err := rows.Scan(&sh.AlertID, &sh.Org, &sh.ReceivedAt); err != nil {
			return nil, fmt.Errorf("store: scan alert shares: %w", err)
		}
		out = append(out, sh)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("read alert shares", err)
	}
	return out, nil
}

// TriageAlerts records t as the triage of every share, in one INSERT; the
// latest (by t.At, to the nanosecond) wins. Recording the same triage twice
// is harmless.
func (s *Store) TriageAlerts(ctx context.Context, shares []AlertShare, t AlertTriage) error {
	if len(shares) == 0 {
		return nil
	}
	t.At = t.At.UTC()
	doc, err := json.Marshal(t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	version := uint64(max(t.At.UnixNano(), 0))
	rows := make([][]any, 0, len(shares))
	for _, sh := range shares {
		rows = append(rows, []any{sh.AlertID, sh.Org, sh.ReceivedAt.UTC(), t.Status, t.Reason, t.Actor, t.At, t.IncidentID, version, string(doc)})
	}
	return s.insert(ctx, "alert_triage", "alert_id, org, received_at, status, reason, actor, at, incident_id, version, doc", rows...)
}
