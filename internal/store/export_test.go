package store

import (
	"context"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/event"
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

// InsertEventsRowWise writes rows one boxed row at a time, as InsertEvents
// did before it appended columns: the reference the columnar writer is
// compared with.
func (s *Store) InsertEventsRowWise(ctx context.Context, rows []EventRow) error {
	vals := make([][]any, 0, len(rows))
	for _, r := range rows {
		ev := r.Ev
		var src, dst event.Endpoint
		if ev.Source != nil {
			src = *ev.Source
		}
		if ev.Destination != nil {
			dst = *ev.Destination
		}
		egov := uint8(0)
		if ev.Kuzet.EGov {
			egov = 1
		}
		cat := ev.Event.Category
		if cat == nil {
			cat = []string{}
		}
		ts := ev.Timestamp
		if ts.IsZero() || ts.Year() > 2105 || ts.Year() < 1970 {
			ts = ev.Kuzet.ReceivedAt
		}
		vals = append(vals, []any{
			r.ID, ev.Kuzet.ReceivedAt.UTC(), ts.UTC(), ev.Kuzet.Collector, ev.Kuzet.OISC, ev.Kuzet.Org, ev.Kuzet.Object,
			ev.Kuzet.Sector, ev.Kuzet.Asset, uint8(ev.Kuzet.Criticality), egov, ev.Kuzet.Input, ev.Kuzet.SourceType,
			ev.Event.Kind, cat, ev.Event.Action, ev.Event.Outcome, int32(ev.Event.Severity), src.IP, clampPort(src.Port),
			dst.IP, clampPort(dst.Port), ev.GetString("network.transport"), ev.GetString("user.name"),
			ev.GetString("host.name"), ev.GetString("process.name"), ev.GetString("rule.name"),
			ev.GetString("observer.vendor"), ev.GetString("observer.product"), ev.Message, r.Doc, r.Search,
		})
	}
	return s.insert(ctx, "events", eventColumns, vals...)
}

// EventColumns is the column list of every events INSERT.
const EventColumns = eventColumns
