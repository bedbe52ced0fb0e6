package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestIncidentsScopedByRole stores a local incident of the bank, one of
// the grid and a national incident linking both, and a correlation alert
// shared by both organisations: an owner's key lists and reads only its
// own local incident (the other's and the national one answer 404), sees
// only its own share of the alert, and the NCC's key sees everything.
func TestIncidentsScopedByRole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	local := func(org, sector, oisc string) incident.Incident {
		return incident.Incident{ID: uuid.NewString(), Title: "Password guessing on " + org, Org: org, Orgs: []string{org},
			Sectors: []string{sector}, CenterID: oisc, Origin: incident.OriginOISCDetected, Status: incident.StatusNew,
			Determination: incident.DeterminationSuspected, Severity: incident.SeverityHigh, TLP: incident.TLPAmber,
			AlertCount: 1, DetectedAt: at}
	}
	bank, grid := local("bank", "banking", "oisc-a"), local("grid", "electricity", "oisc-b")
	national := incident.Incident{ID: uuid.NewString(), Title: "One source against two organisations", National: true,
		Orgs: []string{"bank", "grid"}, Sectors: []string{"banking", "electricity"}, Origin: incident.OriginNCCDetected,
		Status: incident.StatusNew, Severity: incident.SeverityHigh, Linked: []string{bank.ID, grid.ID}, DetectedAt: at}
	var rows []store.StoredIncident
	for _, in := range []incident.Incident{bank, grid, national} {
		in.Version = 1
		rows = append(rows, store.StoredIncident{Incident: in, UpdatedAt: at})
	}
	if err := f.st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	share := func(org, sector, oisc string) alert.Alert {
		return alert.Alert{ID: id, ReceivedAt: at, DetectedAt: at, EventTime: at, RuleID: "corr", Level: "high", OISC: oisc,
			Org: org, Sector: sector, Asset: "known", EventIDs: []string{org + "-e1"}, Correlation: true, Version: 1}
	}
	if err := f.st.InsertAlerts(ctx, []alert.Alert{share("bank", "banking", "oisc-a"), share("grid", "electricity", "oisc-b")}); err != nil {
		t.Fatal(err)
	}
	list := func(key string) map[string]bool {
		code, body := f.get(t, key, "/api/v1/incidents")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", key, code, body)
		}
		var b struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, in := range b.Incidents {
			out[in.ID] = true
		}
		return out
	}
	if got := list("owner-key"); len(got) != 1 || !got[bank.ID] {
		t.Errorf("the bank's owner lists %v, want only its incident %s", got, bank.ID)
	}
	if got := list("oisc-key"); len(got) != 1 || !got[grid.ID] {
		t.Errorf("oisc-b's analyst lists %v, want only the grid's incident", got)
	}
	if got := list("ncc-key"); len(got) != 3 {
		t.Errorf("the NCC lists %d incidents, want 3", len(got))
	}
	for id, want := range map[string]int{bank.ID: 200, grid.ID: 404, national.ID: 404, "not-a-uuid": 404} {
		if code, body := f.get(t, "owner-key", "/api/v1/incidents/"+id); code != want {
			t.Errorf("the owner reading %s: %d, want %d (%s)", id, code, want, body)
		}
	}
	// The delivery log is scoped like its incident.
	for id, want := range map[string]int{bank.ID: 200, grid.ID: 404, "not-a-uuid": 404} {
		if code, body := f.get(t, "owner-key", "/api/v1/incidents/"+id+"/notifications"); code != want {
			t.Errorf("owner reads the notifications of %s: %d %s, want %d", id, code, body, want)
		} else if want == 200 && !strings.Contains(string(body), `"notifications":[`) {
			t.Errorf("notifications of %s: %s", id, body)
		}
	}
	if code, _ := f.get(t, "ncc-key", "/api/v1/incidents/"+national.ID); code != 200 {
		t.Errorf("the NCC reading the national incident: %d", code)
	}
	if code, _ := f.get(t, "owner-key", "/api/v1/incidents?national=true"); code != 200 {
		t.Errorf("national filter: %d", code)
	} else if got := list("owner-key"); got[national.ID] {
		t.Error("the owner sees the national incident")
	}
	if code, _ := f.get(t, "regulator-key", "/api/v1/incidents"); code != http.StatusForbidden {
		t.Errorf("a regulator listing incidents: %d, want 403", code)
	}
	if code, _ := f.get(t, "ncc-key", "/api/v1/incidents?status=open"); code != http.StatusBadRequest {
		t.Errorf("an unknown status: %d, want 400", code)
	}
	// The shared correlation alert: each owner sees its own share only.
	code, body := f.get(t, "owner-key", "/api/v1/alerts?rule_id=corr")
	var ab struct {
		Alerts []alert.Alert `json:"alerts"`
	}
	if code != 200 || json.Unmarshal(body, &ab) != nil || len(ab.Alerts) != 1 || ab.Alerts[0].Org != "bank" ||
		len(ab.Alerts[0].EventIDs) != 1 || ab.Alerts[0].EventIDs[0] != "bank-e1" {
		t.Errorf("the bank's owner sees the shared alert as %d %s", code, body)
	}
	if code, body := f.get(t, "ncc-key", "/api/v1/alerts?rule_id=corr"); code != 200 || json.Unmarshal(body, &ab) != nil || len(ab.Alerts) != 2 {
		t.Errorf("the NCC sees %d shares of the shared alert", len(ab.Alerts))
	}
}
