package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestTLPCeilings: reads above a key's TLP ceiling are withheld inside the
// query, by list and by id: an AMBER owner key reads its organisation's
// AMBER and GREEN incidents but not its RED one, which its named recipient
// reads; a GREEN key reads only the GREEN one, and no events or alerts
// (TLP:AMBER); the NCC's AMBER+STRICT reads its STRICT incident, not RED.
func TestTLPCeilings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	mk := func(tlp incident.TLP, recipients ...string) incident.Incident {
		return incident.Incident{ID: uuid.NewString(), Version: 1, Title: "TLP " + string(tlp), Org: "bank", Orgs: []string{"bank"},
			Sectors: []string{"banking"}, CenterID: "oisc-a", Origin: incident.OriginOISCDetected, Status: incident.StatusNew,
			Determination: incident.DeterminationSuspected, Severity: incident.SeverityHigh, TLP: tlp, TLPRecipients: recipients,
			AlertCount: 1, DetectedAt: at}
	}
	green, amber, strict, red := mk(incident.TLPGreen), mk(incident.TLPAmber), mk(incident.TLPAmberStrict), mk(incident.TLPRed, "owner-green")
	var rows []store.StoredIncident
	for _, in := range []incident.Incident{green, amber, strict, red} {
		rows = append(rows, store.StoredIncident{Incident: in, UpdatedAt: at})
	}
	if err := f.st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	list := func(key string) map[string]bool {
		code, body := f.get(t, key, "/api/v1/incidents?limit=50")
		var ib struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if code != 200 || json.Unmarshal(body, &ib) != nil {
			t.Fatalf("%s lists: %d %s", key, code, body)
		}
		out := map[string]bool{}
		for _, in := range ib.Incidents {
			out[in.ID] = true
		}
		return out
	}
	for key, want := range map[string]map[string]bool{
		"owner-key":       {green.ID: true, amber.ID: true},
		"owner-green-key": {green.ID: true, red.ID: true}, // GREEN, and the RED one that names it
		"ncc-key":         {green.ID: true, amber.ID: true, strict.ID: true},
	} {
		got := list(key)
		for _, in := range []incident.Incident{green, amber, strict, red} {
			if got[in.ID] != want[in.ID] {
				t.Errorf("%s lists %s: %v, want %v", key, in.TLP, got[in.ID], want[in.ID])
			}
			code, _ := f.get(t, key, "/api/v1/incidents/"+in.ID)
			if wantCode := map[bool]int{true: 200, false: 404}[want[in.ID]]; code != wantCode {
				t.Errorf("%s reads the %s incident: %d, want %d", key, in.TLP, code, wantCode)
			}
		}
	}
	for _, path := range []string{"/api/v1/events?limit=1", "/api/v1/alerts?limit=1"} {
		if code, _ := f.get(t, "owner-green-key", path); code != 403 {
			t.Errorf("a GREEN key reads %s: %d, want 403", path, code)
		}
	}
}
