package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestStatisticsForRegulators: a regulator of banking reads aggregates of
// its sector only, TLP:GREEN, with no title or entity of any incident,
// nothing of a RED incident, and rows of fewer than three organisations
// withheld; owners read none; bad parameters are 400.
func TestStatisticsForRegulators(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var rows []store.StoredIncident
	add := func(org, sector, class, typ string, tlp incident.TLP) {
		in := incident.Incident{ID: uuid.NewString(), Version: 1, Title: "TITLE-" + org + "-" + string(tlp), Org: org, Orgs: []string{org},
			Sectors: []string{sector}, Origin: incident.OriginOISCDetected, Status: incident.StatusNew, Severity: incident.SeverityHigh,
			TLP: tlp, RSITClass: class, RSITType: typ, DetectedAt: at, Entities: map[string][]string{"source.ip": {"203.0.113.250"}},
			AcknowledgedAt: at.Add(10 * time.Minute)}
		if tlp == incident.TLPRed {
			in.TLPRecipients = []string{"someone"}
		}
		rows = append(rows, store.StoredIncident{Incident: in, UpdatedAt: at})
	}
	for _, org := range []string{"b1", "b2", "b3"} {
		add(org, "banking", "intrusion-attempts", "brute-force", incident.TLPAmber)
	}
	add("b1", "banking", "malicious-code", "infected-system", incident.TLPAmber) // one organisation: withheld
	add("b2", "banking", "fraud", "phishing", incident.TLPRed)                   // never counted
	add("e1", "electricity", "intrusion-attempts", "brute-force", incident.TLPAmber)
	if err := f.st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, "regulator-key", "/api/v1/stats/incidents?by=category")
	var ans struct {
		TLP  string           `json:"tlp"`
		K    int              `json:"k"`
		Rows []store.StatsRow `json:"rows"`
	}
	if code != 200 || json.Unmarshal(body, &ans) != nil {
		t.Fatalf("regulator stats: %d %s", code, body)
	}
	got := map[string]store.StatsRow{}
	for _, r := range ans.Rows {
		got[r.Category] = r
	}
	if ans.TLP != "GREEN" || ans.K != 3 || len(ans.Rows) != 2 || got["intrusion-attempts"].Incidents != 3 ||
		!got["malicious-code"].Withheld || got["malicious-code"].Incidents != 0 {
		t.Errorf("regulator's incident counts: %s", body)
	}
	for _, leak := range []string{"TITLE-", "203.0.113.250", "fraud", "electricity"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the regulator's statistics show %q: %s", leak, body)
		}
	}
	// by=category&by=severity is by=category,severity.
	if code, body := f.get(t, "regulator-key", "/api/v1/stats/incidents?by=category&by=severity"); code != 200 ||
		!strings.Contains(string(body), `"by":["category","severity"]`) {
		t.Errorf("a repeated by: %d %s", code, body)
	}
	code, body = f.get(t, "regulator-key", "/api/v1/stats/response-times?by=category")
	if code != 200 || !strings.Contains(string(body), `"time_to_acknowledge":{"n":3,"mean_seconds":600,"median_seconds":600}`) {
		t.Errorf("response times: %d %s", code, body)
	}
	if code, body := f.get(t, "regulator-key", "/api/v1/stats/timeliness"); code != 200 || !strings.Contains(string(body), `"rows":[]`) {
		t.Errorf("timeliness (no stages seeded): %d %s", code, body)
	}
	for path, want := range map[string]int{
		"/api/v1/stats/incidents?by=title":          400,
		"/api/v1/stats/incidents?interval=hour":     400,
		"/api/v1/stats/incidents?from=yesterday":    400,
		"/api/v1/stats/incidents?sector=space":      400,
		"/api/v1/stats/incidents?colour=red":        400,
		"/api/v1/stats/incidents?by=sector,day":     400,
		"/api/v1/stats/incidents?interval=day&by=x": 400,
		"/api/v1/stats/incidents?by=severity&by=x":  400, // every value of a repeated parameter counts
		"/api/v1/stats/timeliness?by=category":      400,
		"/api/v1/stats/timeliness?interval=day":     400,
		"/api/v1/stats/timeliness?by=sector":        200,
	} {
		if code, body := f.get(t, "ncc-key", path); code != want {
			t.Errorf("%s: %d %s, want %d", path, code, body, want)
		}
	}
	for _, key := range []string{"owner-key", "admin-key"} {
		if code, _ := f.get(t, key, "/api/v1/stats/incidents"); code != 403 {
			t.Errorf("%s reads statistics: %d, want 403", key, code)
		}
	}
	// The NCC sees both sectors, a row each, electricity's withheld.
	code, body = f.get(t, "ncc-key", "/api/v1/stats/incidents?by=sector&interval=day")
	if code != 200 || !strings.Contains(string(body), `"sector":"electricity","withheld":true`) || !strings.Contains(string(body), `"sector":"banking","incidents":4`) {
		t.Errorf("ncc by sector per day: %d %s", code, body)
	}
}

// TestSectorCenterNotifications: a sector analyst lists the notifications
// sent to the sectoral centers of its sectors, and no one else's.
func TestSectorCenterNotifications(t *testing.T) {
	f := newFixture(t)
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	mine, other := uuid.NewString(), uuid.NewString()
	if err := f.st.InsertNotificationLog(context.Background(), []store.NotificationLogEntry{
		{At: at, NotificationID: mine, IncidentID: uuid.NewString(), Regime: "r", Stage: "s", Recipient: "isc-energy", Kind: "sectoral_isc",
			Channel: "nats", Attempt: 1, Outcome: store.DeliverySent},
		{At: at, NotificationID: other, IncidentID: uuid.NewString(), Regime: "r", Stage: "s", Recipient: "isc-finance", Kind: "sectoral_isc",
			Channel: "nats", Attempt: 1, Outcome: store.DeliverySent},
	}); err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, "sector-key", "/api/v1/notifications")
	if code != 200 || !strings.Contains(string(body), mine) || strings.Contains(string(body), other) {
		t.Errorf("the energy sector analyst's notifications: %d %s", code, body)
	}
	if code, _ := f.get(t, "regulator-key", "/api/v1/notifications"); code != 403 {
		t.Errorf("a regulator's notifications: %d, want 403", code)
	}
}
