package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestAlertTriage triages shares of a shared alert and a plain one: the
// latest triage of each share wins, listings carry it (new when none) and
// filter by it inside the query, and AlertShares selects by ids within the
// scope only.
func TestAlertTriage(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	shared, plain := uuid.New(), uuid.New()
	mk := func(id uuid.UUID, org, sector string) alert.Alert {
		return alert.Alert{ID: id, ReceivedAt: at, DetectedAt: at, EventTime: at, RuleID: "r", Level: "high", OISC: "oisc-a",
			Org: org, Sector: sector, EventIDs: []string{org}, Version: 1}
	}
	if err := s.InsertAlerts(ctx, []alert.Alert{mk(shared, "bank", "banking"), mk(shared, "grid", "electricity"),
		mk(plain, "bank", "banking")}); err != nil {
		t.Fatal(err)
	}
	bank := access.EventScope{Org: "bank"}
	sh, err := s.AlertShares(ctx, store.AlertQuery{IDs: []string{shared.String()}, Scope: bank}, 10)
	if err != nil || len(sh) != 1 || sh[0].Org != "bank" || sh[0].AlertID != shared || !sh[0].ReceivedAt.Equal(at) {
		t.Fatalf("the bank's shares of the shared alert: %+v, %v", sh, err)
	}
	first := store.AlertTriage{Status: store.TriageAcknowledged, Actor: "a", At: at}
	if err := s.TriageAlerts(ctx, sh, first); err != nil {
		t.Fatal(err)
	}
	later := store.AlertTriage{Status: store.TriageFalsePositive, Reason: "scanner we run", Actor: "b", At: at.Add(time.Millisecond)}
	if err := s.TriageAlerts(ctx, sh, later); err != nil {
		t.Fatal(err)
	}
	if err := s.TriageAlerts(ctx, sh, first); err != nil { // the older one again: it loses by version
		t.Fatal(err)
	}
	type row struct {
		ID     uuid.UUID         `json:"alert_id"`
		Org    string            `json:"org"`
		Triage store.AlertTriage `json:"triage"`
	}
	list := func(q store.AlertQuery) map[string]store.AlertTriage {
		q.Limit = 100
		page, err := s.QueryAlerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.AlertTriage{}
		for _, doc := range page.Events {
			var r row
			if err := json.Unmarshal(doc, &r); err != nil {
				t.Fatalf("%v: %s", err, doc)
			}
			out[r.ID.String()[:8]+"/"+r.Org] = r.Triage
		}
		return out
	}
	got := list(store.AlertQuery{})
	if len(got) != 3 {
		t.Fatalf("listing: %v", got)
	}
	if tr := got[shared.String()[:8]+"/bank"]; tr.Status != store.TriageFalsePositive || tr.Reason != "scanner we run" || tr.Actor != "b" {
		t.Errorf("the bank's share: %+v", tr)
	}
	if tr := got[shared.String()[:8]+"/grid"]; tr.Status != store.TriageNew || tr.Actor != "" {
		t.Errorf("the grid's share: %+v", tr)
	}
	if got := list(store.AlertQuery{Triage: []string{store.TriageFalsePositive}}); len(got) != 1 {
		t.Errorf("false positives: %v", got)
	}
	if got := list(store.AlertQuery{Triage: []string{store.TriageNew}}); len(got) != 2 {
		t.Errorf("new: %v", got)
	}
	if got := list(store.AlertQuery{Triage: []string{store.TriageNew, store.TriageFalsePositive}, Scope: bank}); len(got) != 2 {
		t.Errorf("new or false positive in the bank's scope: %v", got)
	}
	if got := list(store.AlertQuery{Triage: []string{store.TriageAcknowledged}}); len(got) != 0 {
		t.Errorf("acknowledged (replaced since): %v", got)
	}
	// Back to new: listed as new again.
	if err := s.TriageAlerts(ctx, sh, store.AlertTriage{Status: store.TriageNew, Actor: "c", At: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if got := list(store.AlertQuery{Triage: []string{store.TriageNew}}); len(got) != 3 {
		t.Errorf("new after a reset: %v", got)
	}
	// Out of scope: the grid's scope does not select the bank's plain alert.
	if sh, err := s.AlertShares(ctx, store.AlertQuery{IDs: []string{plain.String()}, Scope: access.EventScope{Org: "grid"}}, 10); err != nil || len(sh) != 0 {
		t.Errorf("the grid selecting the bank's alert: %v, %v", sh, err)
	}
	// max+1 tells a selection over max.
	if sh, err := s.AlertShares(ctx, store.AlertQuery{}, 2); err != nil || len(sh) != 3 {
		t.Errorf("shares with max 2: %d, %v", len(sh), err)
	}
}
