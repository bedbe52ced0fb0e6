package store

import (
	"context"

	"github.com/kuzet-kz/kuzet/internal/alert"
)

// SetDocChunk sets how many ids one query of docs names, for a test; the
// returned function restores it.
func SetDocChunk(n int) (restore func()) {
	old := docChunk
	docChunk = n
	return func() { docChunk = old }
}

// MigrateTo applies the migrations up to version upto, for upgrade tests.
func (s *Store) MigrateTo(ctx context.Context, upto uint32) error { return s.migrateTo(ctx, upto) }

// InsertAlertsBefore5 writes alerts as the writer did before migration 5.
func (s *Store) InsertAlertsBefore5(ctx context.Context, alerts ...alert.Alert) error {
	rows := make([][]any, 0, len(alerts))
	for _, a := range alerts {
		rows = append(rows, []any{a.ID, a.ReceivedAt, a.DetectedAt, a.EventTime, a.RuleID, a.RuleTitle, a.Level, nonNil(a.Tags),
			nonNil(a.Attack), nonNil(a.EventIDs), a.Collector, a.OISC, a.Org, a.Object, a.Sector, a.Asset, uint8(a.Criticality),
			a.HostName, a.SourceIP, a.UserName, a.RuleSet, `{"rule_id":"` + a.RuleID + `"}`})
	}
	return s.insert(ctx, "alerts", oldAlertColumns, rows...)
}
