package grouping_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// startMember starts an incident stage member as startStage does; the
// caller stops it.
func startMember(t *testing.T, js jetstream.JetStream, st *store.Store, member string) *grouping.Stage {
	t.Helper()
	cfg := incident.DefaultConfig()
	cfg.RSITFile = ""
	cfg.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}}
	stg, err := grouping.Start(context.Background(), js, st, grouping.Options{Config: cfg, Partitions: 4, Member: member,
		Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return stg
}

// incidentsOfRule returns how many incidents hold an alert of rule.
func incidentsOfRule(t *testing.T, st *store.Store, rule string) int {
	t.Helper()
	n := 0
	_, err := st.StreamIncidents(context.Background(), store.IncidentQuery{Limit: 100}, func(doc []byte) error {
		var in incident.Incident
		if err := json.Unmarshal(doc, &in); err != nil {
			return err
		}
		if holds(in.RuleIDs, rule) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitIncident waits until an incident holds an alert of rule.
func waitIncident(t *testing.T, st *store.Store, rule string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for incidentsOfRule(t, st, rule) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no incident of rule %s", rule)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSilenceMutesAcrossTakeover: a silence published through the bus
// helper to every partition mutes the bank's alerts of its rule (no
// incident opens, while a later alert of another rule in the same
// partition opens one); after the member is stopped and another takes
// over from the checkpoint, the silence still mutes; once expired, new
// alerts of the rule open an incident.
func TestSilenceMutesAcrossTakeover(t *testing.T) {
	st := storetest.Open(t)
	_, js := bustest.Connect(t, bustest.Server(t))
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	first := startMember(t, js, st, "ncc-1")
	kv, err := bus.LookupSilences(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := kv.Partitions(ctx)
	if err != nil || parts != 4 {
		t.Fatalf("partitions recorded: %d, %v", parts, err)
	}
	now := time.Now().UTC()
	rec, err := kv.Put(ctx, bus.SilenceRecord{ID: uuid.NewString(), CreatedBy: "test", Reason: "maintenance window",
		Matchers: []incident.Matcher{{Name: "rule_id", Op: incident.MatchEqual, Value: "r-mute"}},
		StartsAt: now, EndsAt: now.Add(time.Hour), CreatedAt: now}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishSilence(ctx, js, parts, rec); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishSilence(ctx, js, parts, rec); err != nil { // a retry is stored once
		t.Fatal(err)
	}
	n := 0
	publish := func(rule string, count int) {
		t.Helper()
		for range count {
			n++
			a := mkAlert(1000+n, "bank", "banking", "cbs", rule, "203.0.113.9", time.Now().UTC())
			data, _ := json.Marshal(a)
			if _, err := js.Publish(ctx, bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	muted := func(loud string) {
		t.Helper()
		publish("r-mute", 3)
		publish(loud, 1) // after the muted ones, in the same partition
		waitIncident(t, st, loud)
		time.Sleep(300 * time.Millisecond) // a group of r-mute would have flushed by now
		if got := incidentsOfRule(t, st, "r-mute"); got != 0 {
			t.Fatalf("silenced alerts opened %d incidents", got)
		}
	}
	muted("r-loud-1")

	// Another member takes over from the first's checkpoint.
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	second := startMember(t, js, st, "ncc-2")
	defer func() { _ = second.Stop(context.Background()) }()
	muted("r-loud-2")

	// Expired: new alerts of the rule open an incident.
	rec.EndsAt, rec.ExpiredAt, rec.ExpiredBy = time.Now().UTC(), time.Now().UTC(), "test"
	if rec, err = kv.Put(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishSilence(ctx, js, parts, rec); err != nil {
		t.Fatal(err)
	}
	publish("r-mute", 2)
	waitIncident(t, st, "r-mute")
	list, err := kv.List(ctx)
	if err != nil || len(list) != 1 || list[0].ExpiredBy != "test" || list[0].State(time.Now()) != "expired" {
		t.Errorf("listed: %+v, %v", list, err)
	}
}

func holds(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
