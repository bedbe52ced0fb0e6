package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

var threeYears = store.RetentionPolicy{Events: 1096 * 24 * time.Hour, Alerts: 1096 * 24 * time.Hour}

func TestPartitionsPast(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	// Cutoff: 2023-12-03 10:00; a partition goes once it ended a day
	// before the cutoff.
	parts := []store.Partition{
		{Table: "events", Partition: "20231130"},          // ends 12-01, +1 day 12-02 < cutoff: dropped
		{Table: "events", Partition: "20231201"},          // ends 12-02, +1 day 12-03 00:00 < 10:00: dropped
		{Table: "events", Partition: "20231202"},          // ends 12-03, +1 day after the cutoff: kept
		{Table: "events", Partition: "20261203"},          // today: kept
		{Table: "events", Partition: "202311"},            // a monthly value in a daily table: kept
		{Table: "alerts", Partition: "202310"},            // ends 11-01: dropped
		{Table: "alerts", Partition: "202311"},            // ends 12-01, +1 day 12-02: dropped
		{Table: "alerts", Partition: "202312"},            // kept
		{Table: "alert_triage", Partition: "202310"},      // dropped
		{Table: "alert_entities_1d", Partition: "202310"}, // dropped with the alerts
		{Table: "events_5m", Partition: "201901"},         // counts: kept
		{Table: "incidents", Partition: "201901"},         // never a retention table
		{Table: "audit_log", Partition: "201901"},         // never
		{Table: "events", Partition: "2023-12-01"},        // not a partition value: kept
	}
	got := store.PartitionsPast(parts, threeYears, now)
	want := []store.Partition{{Table: "events", Partition: "20231130"}, {Table: "events", Partition: "20231201"},
		{Table: "alerts", Partition: "202310"}, {Table: "alerts", Partition: "202311"}, {Table: "alert_triage", Partition: "202310"},
		{Table: "alert_entities_1d", Partition: "202310"}}
	if !slices.Equal(got, want) {
		t.Errorf("past:\n got %v\nwant %v", got, want)
	}
	if got := store.PartitionsPast(parts, store.RetentionPolicy{}, now); len(got) != 0 {
		t.Errorf("a zero policy drops %v", got)
	}
}

// TestRetentionDropsExactlyThePartitionsPastThePolicy seeds events and
// alerts from four and a bit over three years ago to today, and an old
// incident log entry, and runs the job at a three-year policy: the old
// events' and alerts' partitions are gone, the newer ones and the
// incident log untouched; a second run drops nothing.
func TestRetentionDropsExactlyThePartitionsPastThePolicy(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	// The job takes now: a clock with the cutoff on the 3rd of a month,
	// so that "policy and 3 days" falls in the month before, whose alerts'
	// partition ended more than a day before the cutoff (with the wall
	// clock, the test failed from the 4th to the end of most months).
	c := time.Now().UTC().AddDate(-3, 0, 0)
	cutoff := time.Date(c.Year(), c.Month(), 3, 12, 0, 0, 0, time.UTC)
	now := cutoff.Add(threeYears.Events)
	ages := map[string]time.Time{
		"four years":         now.AddDate(-4, 0, 0),
		"policy and 3 days":  cutoff.AddDate(0, 0, -3),
		"policy less 3 days": cutoff.AddDate(0, 0, 3),
		"today":              now,
	}
	var rows []store.EventRow
	var alerts []alert.Alert
	for name, at := range ages {
		rows = append(rows, mkRow(t, at, "bank", "banking", name))
		alerts = append(alerts, alert.Alert{ID: uuid.New(), ReceivedAt: at, DetectedAt: at, EventTime: at, RuleID: "r", RuleTitle: name,
			Level: "low", OISC: "oisc-a", Org: "bank", Sector: "banking", Asset: "known", EventIDs: []string{uuid.NewString()}})
	}
	if err := st.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertAlerts(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	old := now.AddDate(-5, 0, 0)
	if err := st.InsertIncidentLog(ctx, []store.IncidentLogEntry{{ID: uuid.New(), IncidentID: uuid.NewString(), At: old, Actor: "a",
		Action: "comment", Outcome: "applied", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	before, err := st.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := st.ApplyRetention(ctx, threeYears, now)
	if err != nil {
		t.Fatal(err)
	}
	want := store.PartitionsPast(before, threeYears, now)
	if !slices.Equal(dropped, want) || len(dropped) != 4 { // events and alerts of four years and of the policy + 3 days
		t.Errorf("dropped %v, want %v (4 partitions)", dropped, want)
	}
	after, err := st.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range before {
		if slices.Contains(dropped, p) == slices.Contains(after, p) {
			t.Errorf("partition %v: dropped %v, still there %v", p, slices.Contains(dropped, p), slices.Contains(after, p))
		}
	}
	var events, logs uint64
	if err := st.QueryRowScan(ctx, "SELECT count() FROM `"+st.Database()+"`.events", &events); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRowScan(ctx, "SELECT count() FROM `"+st.Database()+"`.incident_log", &logs); err != nil {
		t.Fatal(err)
	}
	if events != 2 || logs != 1 {
		t.Errorf("after retention: %d events (want 2: today and policy less 3 days), %d incident log entries (want 1)", events, logs)
	}
	if again, err := st.ApplyRetention(ctx, threeYears, now); err != nil || len(again) != 0 {
		t.Errorf("a second run: %v %v", again, err)
	}
}
