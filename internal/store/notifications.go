package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
)

// notificationsMigration adds the delivery log of notifications: one row
// per attempt (sent, failed), acknowledgement and overdue finding. It is
// never updated; rows repeated by a replay share their entry id and are
// kept once.
var notificationsMigration = migration{6, "notification delivery log", []string{
	`CREATE TABLE IF NOT EXISTS {db}.notification_log (
			entry_id UUID,
			at DateTime,
			notification_id String,
			incident_id String,
			org String,
			regime String,
			stage String,
			recipient String,
			kind String,
			channel String,
			attempt UInt32,
			outcome String,
			detail String,
			payload_sha256 String,
			payload String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(at)
		ORDER BY (incident_id, notification_id, at, entry_id)`,
}, nil, nil}

const notificationLogColumns = "entry_id, at, notification_id, incident_id, org, regime, stage, recipient, kind, channel, " +
	"attempt, outcome, detail, payload_sha256, payload"

// Delivery log outcomes.
const (
	DeliverySent         = "sent"
	DeliveryFailed       = "failed"
	DeliveryAcknowledged = "acknowledged"
	DeliveryAckRejected  = "ack_rejected"
	DeliveryOverdue      = "overdue"
	DeliveryDropped      = "dropped"
)

// NotificationLogEntry is one row of the delivery log.
type NotificationLogEntry struct {
	At             time.Time `json:"at"`
	NotificationID string    `json:"notification_id"`
	IncidentID     string    `json:"incident_id"`
	Org            string    `json:"org,omitempty"`
	Regime         string    `json:"regime"`
	Stage          string    `json:"stage"`
	Recipient      string    `json:"recipient"`
	Kind           string    `json:"kind,omitempty"`
	Channel        string    `json:"channel,omitempty"`
	Attempt        int       `json:"attempt,omitempty"`
	Outcome        string    `json:"outcome"`
	Detail         string    `json:"detail,omitempty"`
	PayloadSHA256  string    `json:"payload_sha256,omitempty"`
	Payload        string    `json:"payload,omitempty"`
}

var notificationLogSpace = uuid.MustParse("a3c5e7f9-0b1d-4f2a-8c4e-6a8b0c2d4e6f")

// entryID is deterministic: a replayed attempt is the same row.
func (e *NotificationLogEntry) entryID() uuid.UUID {
	return uuid.NewSHA1(notificationLogSpace, []byte(fmt.Sprintf("%s|%s|%d|%s|%s|%s",
		e.NotificationID, e.IncidentID+"/"+e.Regime+"/"+e.Stage, e.Attempt, e.Outcome, e.At.UTC().Format(time.RFC3339Nano), e.Recipient)))
}

// InsertNotificationLog appends delivery log rows.
func (s *Store) InsertNotificationLog(ctx context.Context, es []NotificationLogEntry) error {
	if len(es) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, 0, len(es))
	for i := range es {
		e := &es[i]
		rows = append(rows, []any{e.entryID(), e.At.UTC(), e.NotificationID, e.IncidentID, e.Org, e.Regime, e.Stage,
			e.Recipient, e.Kind, e.Channel, uint32(max(e.Attempt, 0)), e.Outcome, e.Detail, e.PayloadSHA256, e.Payload})
	}
	return s.insert(ctx, "notification_log", notificationLogColumns, rows...)
}

// NotificationLog returns an incident's delivery log in time order, when
// the incident is in scope (scoped inside the query: an incident out of
// scope has no log, like one that does not exist).
func (s *Store) NotificationLog(ctx context.Context, incidentID string, sc access.EventScope) ([]NotificationLogEntry, error) {
	uid, err := uuid.Parse(incidentID)
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var w where
	incidentScope(&w, sc)
	w.add("incident_id = ?", uid)
	args := append([]any{uid.String()}, w.args...)
	rows, err := s.conn.Query(ctx, "SELECT "+notificationLogColumns+" FROM "+s.table("notification_log")+
		" FINAL WHERE incident_id = ? AND incident_id IN (SELECT toString(incident_id) FROM "+s.table("incidents")+w.String()+
		") ORDER BY at, attempt, notification_id", args...)
	if err != nil {
		return nil, classify("notification log", err)
	}
	defer rows.Close()
	var out []NotificationLogEntry
	for rows.Next() {
		var e NotificationLogEntry
		var id uuid.UUID
		var attempt uint32
		if err := rows.Scan(&id, &e.At, &e.NotificationID, &e.IncidentID, &e.Org, &e.Regime, &e.Stage, &e.Recipient,
			&e.Kind, &e.Channel, &attempt, &e.Outcome, &e.Detail, &e.PayloadSHA256, &e.Payload); err != nil {
			return nil, classify("notification log", err)
		}
		e.Attempt = int(attempt)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("notification log", err)
	}
	return out, nil
}

// SentNotification is what an acknowledgement needs of a notification.
type SentNotification struct {
	IncidentID string
	Org        string
	Recipient  string
	Kind       string
	SentAt     time.Time
}

// FindSentNotification looks up a notification that was sent; ErrNotFound
// when none was.
func (s *Store) FindSentNotification(ctx context.Context, notificationID string) (SentNotification, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(ctx, "SELECT incident_id, org, recipient, kind, at FROM "+s.table("notification_log")+
		" WHERE notification_id = ? AND outcome = ? ORDER BY at LIMIT 1", notificationID, DeliverySent)
	if err != nil {
		return SentNotification{}, classify("find notification", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return SentNotification{}, classify("find notification", err)
		}
		return SentNotification{}, ErrNotFound
	}
	var n SentNotification
	if err := rows.Scan(&n.IncidentID, &n.Org, &n.Recipient, &n.Kind, &n.SentAt); err != nil {
		return SentNotification{}, classify("find notification", err)
	}
	return n, nil
}

// NotificationRecipient selects the notifications of one recipient: a
// kind, and an id within it (empty: every recipient of the kind).
type NotificationRecipient struct {
	Kind string
	ID   string
	// IDs, when set, are several recipients of the kind (a sector
	// analyst's sectoral centers); an empty ID and IDs: every one.
	IDs []string
}

// ReceivedNotification is a notification as its recipient sees it.
type ReceivedNotification struct {
	NotificationID string    `json:"notification_id"`
	IncidentID     string    `json:"incident_id"`
	Regime         string    `json:"regime"`
	Stage          string    `json:"stage"`
	Recipient      string    `json:"recipient"`
	Kind           string    `json:"kind"`
	Channel        string    `json:"channel"`
	SentAt         time.Time `json:"sent_at"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	PayloadSHA256  string    `json:"payload_sha256"`
}

// ReceivedNotifications lists what a recipient was sent, newest first,
// with when each was acknowledged.
func (s *Store) ReceivedNotifications(ctx context.Context, r NotificationRecipient, limit int) ([]ReceivedNotification, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sent := "outcome = ? AND kind = ?"
	args := []any{DeliverySent, r.Kind}
	if r.ID != "" {
		sent += " AND recipient = ?"
		args = append(args, r.ID)
	} else if r.IDs != nil {
		sent += " AND has(?, recipient)"
		args = append(args, nonNil(r.IDs))
	}
	t := s.table("notification_log")
	q := "SELECT notification_id, anyIf(incident_id, outcome = 'sent'), anyIf(regime, outcome = 'sent'), anyIf(stage, outcome = 'sent')," +
		" anyIf(recipient, outcome = 'sent'), anyIf(kind, outcome = 'sent'), anyIf(channel, outcome = 'sent')," +
		" minIf(at, outcome = 'sent') AS sent_at, countIf(outcome = 'acknowledged') AS acks, minIf(at, outcome = 'acknowledged')," +
		" anyIf(payload_sha256, outcome = 'sent')" +
		" FROM " + t + " WHERE notification_id IN (SELECT notification_id FROM " + t + " WHERE " + sent + ")" +
		" GROUP BY notification_id ORDER BY sent_at DESC, notification_id LIMIT ?"
	args = append(args, limit)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, classify("received notifications", err)
	}
	defer rows.Close()
	out := []ReceivedNotification{}
	for rows.Next() {
		var n ReceivedNotification
		var acks uint64
		var ackAt time.Time
		if err := rows.Scan(&n.NotificationID, &n.IncidentID, &n.Regime, &n.Stage, &n.Recipient, &n.Kind, &n.Channel,
			&n.SentAt, &acks, &ackAt, &n.PayloadSHA256); err != nil {
			return nil, classify("received notifications", err)
		}
		if acks > 0 {
			n.AcknowledgedAt = ackAt
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("received notifications", err)
	}
	return out, nil
}
