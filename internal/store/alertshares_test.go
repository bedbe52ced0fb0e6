package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestAlertSharesMigration upgrades a database whose alerts table predates
// shares (migration 4): its alerts survive the rebuild, and afterwards one
// alert id is stored once per organisation, each share seen only in its
// organisation's scope, and an episode's newer version replaces its row.
func TestAlertSharesMigration(t *testing.T) {
	cfg := storetest.Config(t)
	ctx := context.Background()
	s, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.MigrateTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	old := alert.Alert{ID: uuid.New(), ReceivedAt: at, DetectedAt: at, EventTime: at, RuleID: "r-old", Level: "high",
		OISC: "oisc-a", Org: "bank", Sector: "banking", EventIDs: []string{"e1"}}
	if err := s.InsertAlertsBefore5(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil { // again: nothing to do
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != store.LatestSchema() {
		t.Fatalf("schema %d, %v", v, err)
	}
	id := uuid.New()
	share := func(org, sector string, version uint64, events ...string) alert.Alert {
		return alert.Alert{ID: id, ReceivedAt: at, DetectedAt: at, EventTime: at, RuleID: "corr", Level: "high", OISC: "oisc-a",
			Org: org, Sector: sector, EventIDs: events, Correlation: true, Version: version, EventCount: len(events)}
	}
	if err := s.InsertAlerts(ctx, []alert.Alert{share("bank", "banking", 1, "a"), share("grid", "electricity", 1, "b"),
		share("bank", "banking", 2, "a", "c")}); err != nil {
		t.Fatal(err)
	}
	count := func(sc access.EventScope) (n int, docs []string) {
		page, err := s.QueryAlerts(ctx, store.AlertQuery{Limit: 100, Scope: sc, RuleIDs: []string{"corr"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Events {
			docs = append(docs, string(d))
		}
		return len(page.Events), docs
	}
	if page, err := s.QueryAlerts(ctx, store.AlertQuery{Limit: 10, RuleIDs: []string{"r-old"}}); err != nil || len(page.Events) != 1 {
		t.Fatalf("the alert stored before the migration: %d, %v", len(page.Events), err)
	}
	if n, docs := count(access.EventScope{}); n != 2 {
		t.Fatalf("the NCC sees %d shares, want 2 (one per organisation): %v", n, docs)
	}
	n, docs := count(access.EventScope{Org: "bank"})
	if n != 1 || !strings.Contains(docs[0], `"version":2`) {
		t.Fatalf("the bank sees %d shares %v, want its one share at version 2", n, docs)
	}
	if n, _ := count(access.EventScope{Org: "grid"}); n != 1 {
		t.Fatalf("the grid sees %d shares", n)
	}
}
