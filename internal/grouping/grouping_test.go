package grouping_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func mkAlert(i int, org, sector, object, rule, src string, at time.Time) alert.Alert {
	return alert.Alert{ID: uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "alert-%d", i)), ReceivedAt: at, DetectedAt: at,
		EventTime: at, RuleID: rule, RuleTitle: "rule " + rule, Level: "high", Tags: []string{"attack.credential_access"},
		OISC: "oisc-a", Org: org, Object: object, Sector: sector, Asset: "known", Criticality: 1, SourceIP: src,
		EventIDs: []string{fmt.Sprint(i)}}
}

// startStage runs an incident stage with short timers on a real JetStream
// and ClickHouse, stopped when the test ends.
func startStage(t *testing.T) (*store.Store, jetstream.JetStream) {
	t.Helper()
	st := storetest.Open(t)
	_, js := bustest.Connect(t, bustest.Server(t))
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	cfg := incident.DefaultConfig()
	cfg.RSITFile = ""
	cfg.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}}
	stg, err := grouping.Start(ctx, js, st, grouping.Options{Config: cfg, Partitions: 4, Member: "ncc-1",
		Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stg.Stop(context.Background()) })
	return st, js
}

// TestAlertsBecomeIncidents streams alerts of two organisations (and one of
// an unknown asset) through the alerts stream into a running incident
// stage on a real JetStream and ClickHouse: each organisation's alerts of
// one rule and object become one incident holding every alert once, the
// unknown asset's alert opens none, and each organisation's scope sees only
// its own incident, by list and by id.
func TestAlertsBecomeIncidents(t *testing.T) {
	st, js := startStage(t)
	ctx := context.Background()

	now := time.Now().UTC().Truncate(time.Second)
	var alerts []alert.Alert
	for i := range 30 {
		org, sector, object := "bank", "banking", "cbs"
		if i%3 == 0 {
			org, sector, object = "grid", "electricity", "scada-1"
		}
		alerts = append(alerts, mkAlert(i, org, sector, object, "r1", "203.0.113.7", now.Add(time.Duration(i)*time.Second)))
	}
	unknown := mkAlert(99, "", "", "", "r1", "203.0.113.7", now)
	alerts = append(alerts, unknown)
	for _, a := range alerts {
		data, _ := json.Marshal(a)
		for range 2 { // a republished alert is one alert
			if _, err := js.Publish(ctx, bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	list := func(sc access.EventScope) []incident.Incident {
		var out []incident.Incident
		_, err := st.StreamIncidents(ctx, store.IncidentQuery{Limit: 100, Scope: sc}, func(doc []byte) error {
			var in incident.Incident
			if err := json.Unmarshal(doc, &in); err != nil {
				return err
			}
			out = append(out, in)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	var all []incident.Incident
	for {
		all = list(access.EventScope{})
		total := 0
		for _, in := range all {
			total += in.AlertCount
		}
		if len(all) == 2 && total == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("incidents: %d, alerts in them: %d; want 2 and 30", len(all), total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	byOrg := map[string]incident.Incident{}
	for _, in := range all {
		byOrg[in.Org] = in
		if in.Status != incident.StatusNew || in.Origin != incident.OriginOISCDetected || in.CenterID != "oisc-a" {
			t.Errorf("incident %s: status %s, origin %s, center %s", in.ID, in.Status, in.Origin, in.CenterID)
		}
	}
	if byOrg["bank"].AlertCount != 20 || byOrg["grid"].AlertCount != 10 {
		t.Fatalf("alerts per incident: bank %d, grid %d", byOrg["bank"].AlertCount, byOrg["grid"].AlertCount)
	}
	mine := list(access.EventScope{Org: "bank"})
	if len(mine) != 1 || mine[0].ID != byOrg["bank"].ID {
		t.Fatalf("the bank's scope lists %d incidents", len(mine))
	}
	if _, err := st.GetIncident(ctx, byOrg["grid"].ID, access.EventScope{Org: "bank"}, 100); err != store.ErrNotFound {
		t.Fatalf("the bank reading the grid's incident: %v, want ErrNotFound", err)
	}
	// The alerts are linked once each; the detail carries the scope's
	// shares (the alert rows here are inserted as the ncc's writer would).
	if err := st.InsertAlerts(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	d, err := st.GetIncident(ctx, byOrg["bank"].ID, access.EventScope{Org: "bank"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Alerts) != 20 || len(d.Log) == 0 {
		t.Errorf("detail: %d alerts, %d history entries; want 20 and at least the opening", len(d.Alerts), len(d.Log))
	}
}

// TestNationalIncidentLinksOrganisations: one address's alerts at three
// organisations in two sectors become three local incidents and one
// national incident linking all three, which no organisation's scope sees,
// by list or by id.
func TestNationalIncidentLinksOrganisations(t *testing.T) {
	st, js := startStage(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for i, o := range []struct{ org, sector, object string }{
		{"bank", "banking", "cbs"}, {"grid", "electricity", "scada-1"}, {"heat", "electricity", "boilers"},
	} {
		a := mkAlert(100+i, o.org, o.sector, o.object, "scan", "198.51.100.9", now.Add(time.Duration(i)*time.Second))
		data, _ := json.Marshal(a)
		if _, err := js.Publish(ctx, bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
			t.Fatal(err)
		}
	}
	national := true
	var nat incident.Incident
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []incident.Incident
		_, err := st.StreamIncidents(ctx, store.IncidentQuery{Limit: 10, National: &national}, func(doc []byte) error {
			var in incident.Incident
			err := json.Unmarshal(doc, &in)
			got = append(got, in)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && len(got[0].Linked) == 3 {
			nat = got[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("national incidents: %+v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if nat.Origin != incident.OriginNCCDetected || len(nat.Orgs) != 3 || len(nat.Sectors) != 2 ||
		nat.Title != "source.ip 198.51.100.9 seen at 3 organisations in 2 sectors" {
		t.Errorf("national incident %q: origin %s, orgs %v, sectors %v", nat.Title, nat.Origin, nat.Orgs, nat.Sectors)
	}
	for _, org := range []string{"bank", "grid", "heat"} {
		sc := access.EventScope{Org: org}
		var seen []string
		if _, err := st.StreamIncidents(ctx, store.IncidentQuery{Limit: 10, Scope: sc}, func(doc []byte) error {
			var in incident.Incident
			err := json.Unmarshal(doc, &in)
			seen = append(seen, in.ID)
			if in.National || in.Org != org {
				t.Errorf("%s's scope lists incident %s (national %v, org %s)", org, in.ID, in.National, in.Org)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 {
			t.Errorf("%s's scope lists %d incidents, want its own one", org, len(seen))
		}
		if _, err := st.GetIncident(ctx, nat.ID, sc, 10); err != store.ErrNotFound {
			t.Errorf("%s reading the national incident: %v, want ErrNotFound", org, err)
		}
	}
}
