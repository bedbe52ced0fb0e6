package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
)

func init() {
	keys["admin-key"] = config.APIKey{Name: "admin", Role: "admin"}
}

// send makes a request with a JSON body and returns the status and body.
func (f *fixture) send(t *testing.T, method, key, target, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := f.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type triageAnswer struct {
	Triaged int                `json:"triaged"`
	Skipped int                `json:"skipped"`
	Shares  []store.AlertShare `json:"shares"`
	Triage  store.AlertTriage  `json:"triage"`
}

type triagedAlert struct {
	alert.Alert
	Triage store.AlertTriage `json:"triage"`
}

// TestAlertTriage stores alerts of the bank (one of them a correlation
// alert shared with the grid) and of the grid, and a local incident of
// each: an owner triages its alert and lists by triage status; a false
// positive needs a reason; alerts out of scope answer 404 and the roles
// without alerts 403; bulk triage by ids and by filter count what they
// changed; attaching to an incident links only the shares of its
// organisation, refuses another organisation's incident (409, or 404 out
// of scope) and leaves the incident's alert count alone.
func TestAlertTriage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	mk := func(rule, org, sector, oisc string, i int) alert.Alert {
		return alert.Alert{ID: uuid.New(), ReceivedAt: at.Add(time.Duration(i) * time.Second), DetectedAt: at, EventTime: at,
			RuleID: rule, Level: "high", OISC: oisc, Org: org, Sector: sector, Asset: "known", EventIDs: []string{org}, Version: 1}
	}
	var bank []alert.Alert
	for i := range 4 {
		bank = append(bank, mk("brute", "bank", "banking", "oisc-a", i))
	}
	grid := mk("scan", "grid", "electricity", "oisc-b", 5)
	shared := mk("corr", "bank", "banking", "oisc-a", 6)
	shared.Correlation = true
	gridShare := shared
	gridShare.Org, gridShare.Sector, gridShare.OISC = "grid", "electricity", "oisc-b"
	if err := f.st.InsertAlerts(ctx, append(bank, grid, shared, gridShare)); err != nil {
		t.Fatal(err)
	}
	local := func(org, sector, oisc string) incident.Incident {
		return incident.Incident{ID: uuid.NewString(), Version: 1, Title: "on " + org, Org: org, Orgs: []string{org},
			Sectors: []string{sector}, CenterID: oisc, Origin: incident.OriginOISCDetected, Status: incident.StatusNew,
			Severity: incident.SeverityHigh, AlertCount: 1, DetectedAt: at}
	}
	bankInc, gridInc := local("bank", "banking", "oisc-a"), local("grid", "electricity", "oisc-b")
	if err := f.st.InsertIncidents(ctx, []store.StoredIncident{{Incident: bankInc, UpdatedAt: at}, {Incident: gridInc, UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	triage := func(key, target, body string, want int) triageAnswer {
		t.Helper()
		code, b := f.send(t, http.MethodPost, key, target, body)
		if code != want {
			t.Fatalf("%s %s %s: %d %s, want %d", key, target, body, code, b, want)
		}
		var a triageAnswer
		if code == 200 {
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	wantErr := func(key, target, body string, status int, code, field string) {
		t.Helper()
		c, b := f.send(t, http.MethodPost, key, target, body)
		var eb errBody
		if c != status || json.Unmarshal(b, &eb) != nil || eb.Error.Code != code || eb.Error.Field != field {
			t.Errorf("%s %s %.80s: %d %s, want %d %s on %q", key, target, body, c, b, status, code, field)
		}
	}
	list := func(key, query string) map[uuid.UUID]triagedAlert {
		t.Helper()
		code, b := f.get(t, key, "/api/v1/alerts?"+query)
		if code != 200 {
			t.Fatalf("%s lists %s: %d %s", key, query, code, b)
		}
		var body struct {
			Alerts []triagedAlert `json:"alerts"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		out := map[uuid.UUID]triagedAlert{}
		for _, a := range body.Alerts {
			out[a.ID] = a
		}
		return out
	}
	one := func(a alert.Alert) string { return "/api/v1/alerts/" + a.ID.String() + "/triage" }

	// One alert, by its OISC's analyst; listed with its triage, filtered by it.
	if a := triage("oisc-a-key", one(bank[0]), `{"status":"acknowledged","reason":"looking"}`, 200); a.Triaged != 1 ||
		a.Triage.Actor != "oisc-a" || a.Triage.Status != store.TriageAcknowledged {
		t.Errorf("triage one: %+v", a)
	}
	if got := list("oisc-a-key", "triage=acknowledged"); len(got) != 1 || got[bank[0].ID].Triage.Reason != "looking" {
		t.Errorf("acknowledged alerts: %+v", got)
	}
	if got := list("oisc-a-key", "triage=new&rule_id=brute"); len(got) != 3 {
		t.Errorf("new brute alerts: %d, want 3", len(got))
	}
	if got := list("ncc-key", "rule_id=scan"); got[grid.ID].Triage.Status != store.TriageNew {
		t.Errorf("an untriaged alert shows %+v", got[grid.ID].Triage)
	}
	wantErr("oisc-a-key", one(bank[1]), `{"status":"false_positive"}`, 400, "invalid_parameter", "reason")
	wantErr("oisc-a-key", one(bank[1]), `{"status":"closed"}`, 400, "invalid_parameter", "status")
	wantErr("oisc-a-key", one(bank[1]), `{"status":"acknowledged","why":"x"}`, 400, "unknown_field", "why")
	wantErr("oisc-a-key", one(bank[1]), `{"status":"acknowledged","reason":{"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}}`, 400, "too_deep", "")
	wantErr("oisc-a-key", one(bank[1]), `{"status":"acknowledged"} {}`, 400, "invalid_body", "")
	wantErr("oisc-a-key", one(bank[1]), "{\"status\":\"acknowledged\",\"reason\":\"\xff\"}", 400, "invalid_body", "")
	wantErr("oisc-a-key", one(bank[1]), `{"status":"acknowledged","reason":"`+strings.Repeat("x", 70<<10)+`"}`, 413, "request_too_large", "")
	// Out of scope is 404, as an alert that does not exist; roles without
	// alerts are 403.
	wantErr("oisc-a-key", one(grid), `{"status":"acknowledged"}`, 404, "not_found", "")
	wantErr("oisc-key", one(bank[1]), `{"status":"acknowledged"}`, 404, "not_found", "")
	// Owners and sector analysts read and comment; triage is the NCC's and
	// the OISCs'.
	wantErr("sector-key", one(bank[1]), `{"status":"acknowledged"}`, 403, "forbidden", "")
	wantErr("owner-key", one(bank[1]), `{"status":"acknowledged"}`, 403, "forbidden", "")
	wantErr("ncc-key", "/api/v1/alerts/"+uuid.NewString()+"/triage", `{"status":"acknowledged"}`, 404, "not_found", "")
	wantErr("ncc-key", "/api/v1/alerts/1%27%20OR%201=1/triage", `{"status":"acknowledged"}`, 404, "not_found", "")
	for _, key := range []string{"regulator-key", "admin-key"} {
		wantErr(key, one(bank[1]), `{"status":"acknowledged"}`, 403, "forbidden", "")
		wantErr(key, "/api/v1/alerts/triage", `{"status":"acknowledged","ids":["`+bank[1].ID.String()+`"]}`, 403, "forbidden", "")
	}
	if got := list("ncc-key", "triage=new"); len(got) != 5 {
		t.Errorf("after refused triages, %d alerts are new, want 5 (3 brute, scan, the shared one)", len(got))
	}

	// Bulk by ids: out-of-scope ids are ignored.
	ids := fmt.Sprintf(`["%s","%s","%s"]`, bank[1].ID, bank[2].ID, grid.ID)
	if a := triage("oisc-a-key", "/api/v1/alerts/triage", `{"status":"false_positive","reason":"our scanner","ids":`+ids+`}`, 200); a.Triaged != 2 {
		t.Errorf("the owner's bulk by ids: %+v, want 2 (the grid's is not its)", a)
	}
	if a := triage("ncc-key", "/api/v1/alerts/triage", `{"status":"acknowledged","ids":["`+grid.ID.String()+`"]}`, 200); a.Triaged != 1 {
		t.Errorf("the NCC's bulk by ids: %+v", a)
	}
	// Bulk by filter: the bank's brute alerts still new.
	if a := triage("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged","filter":{"rule_id":["brute"],"triage":["new"]}}`, 200); a.Triaged != 1 || a.Shares[0].AlertID != bank[3].ID {
		t.Errorf("bulk by filter: %+v, want bank[3] only", a)
	}
	if got := list("oisc-a-key", "triage=false_positive"); len(got) != 2 || got[bank[1].ID].Triage.Reason != "our scanner" {
		t.Errorf("false positives: %+v", got)
	}
	wantErr("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged"}`, 400, "invalid_parameter", "ids")
	wantErr("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged","ids":[],"filter":{}}`, 400, "invalid_parameter", "ids")
	wantErr("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged","ids":["x' OR 1=1 --"]}`, 400, "invalid_parameter", "ids")
	wantErr("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged","filter":{"level":["severe"]}}`, 400, "invalid_parameter", "filter.level")
	wantErr("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged","filter":{"from":"yesterday"}}`, 400, "invalid_parameter", "filter.from")
	wantErr("oisc-a-key", "/api/v1/alerts/triage", `{"status":"acknowledged","filter":{"org":["bank"],"colour":"red"}}`, 400, "unknown_field", "colour")
	many := make([]string, 1001)
	for i := range many {
		many[i] = `"` + uuid.NewString() + `"`
	}
	wantErr("ncc-key", "/api/v1/alerts/triage", `{"status":"acknowledged","ids":[`+strings.Join(many, ",")+`]}`, 400, "invalid_parameter", "ids")

	// Attach: the owner sees only its share of the shared alert.
	attach := fmt.Sprintf(`{"status":"true_positive","incident_id":"%s"}`, bankInc.ID)
	if a := triage("oisc-a-key", one(shared), attach, 200); a.Triaged != 1 || a.Skipped != 0 || a.Shares[0].Org != "bank" {
		t.Errorf("the owner attaching the shared alert: %+v", a)
	}
	// The NCC sees both shares: the grid's is skipped, not attached.
	if a := triage("ncc-key", one(shared), attach, 200); a.Triaged != 1 || a.Skipped != 1 || a.Shares[0].Org != "bank" {
		t.Errorf("the NCC attaching the shared alert: %+v", a)
	}
	wantErr("ncc-key", one(bank[0]), fmt.Sprintf(`{"status":"true_positive","incident_id":"%s"}`, gridInc.ID), 409, "org_mismatch", "incident_id")
	wantErr("oisc-a-key", one(bank[0]), fmt.Sprintf(`{"status":"true_positive","incident_id":"%s"}`, gridInc.ID), 404, "not_found", "incident_id")
	wantErr("oisc-a-key", one(bank[0]), fmt.Sprintf(`{"status":"false_positive","reason":"x","incident_id":"%s"}`, bankInc.ID), 400, "invalid_parameter", "incident_id")
	wantErr("oisc-a-key", one(bank[0]), `{"status":"true_positive","incident_id":"nope"}`, 400, "invalid_parameter", "incident_id")
	code, b := f.get(t, "oisc-a-key", "/api/v1/incidents/"+bankInc.ID)
	var d struct {
		Incident incident.Incident `json:"incident"`
		Alerts   []alert.Alert     `json:"alerts"`
		Log      []json.RawMessage `json:"log"`
	}
	if code != 200 || json.Unmarshal(b, &d) != nil {
		t.Fatalf("the bank's incident: %d %s", code, b)
	}
	if len(d.Alerts) != 1 || d.Alerts[0].ID != shared.ID || d.Alerts[0].Org != "bank" || d.Incident.AlertCount != 1 {
		t.Errorf("the incident after attaching: %d alerts, alert_count %d", len(d.Alerts), d.Incident.AlertCount)
	}
	if len(d.Log) != 2 || !strings.Contains(string(d.Log[0]), `"attach_alerts"`) {
		t.Errorf("the incident's history: %s", d.Log)
	}
	if got := list("ncc-key", "rule_id=corr&org=bank"); got[shared.ID].Triage.IncidentID != bankInc.ID {
		t.Errorf("the shared alert's triage: %+v", got[shared.ID].Triage)
	}
	if got := list("ncc-key", "rule_id=corr&org=grid"); got[shared.ID].Triage.Status != store.TriageNew {
		t.Errorf("the grid's share, skipped, is %+v", got[shared.ID].Triage)
	}
	// A wrong method names the allowed one.
	if code, _ := f.get(t, "ncc-key", "/api/v1/alerts/triage"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET on the bulk route: %d, want 405", code)
	}
	if code, _ := f.get(t, "ncc-key", "/api/v1/alerts?triage=closed"); code != 400 {
		t.Errorf("an unknown triage filter: %d, want 400", code)
	}
}

// TestBulkTriageLimit: a filter that selects more than 1000 alert shares
// is refused whole.
func TestBulkTriageLimit(t *testing.T) {
	f := newFixture(t)
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	var alerts []alert.Alert
	for i := range 1001 {
		alerts = append(alerts, alert.Alert{ID: uuid.New(), ReceivedAt: at.Add(time.Duration(i) * time.Second), DetectedAt: at,
			EventTime: at, RuleID: "noisy", Level: "low", OISC: "oisc-a", Org: "bank", Sector: "banking"})
	}
	if err := f.st.InsertAlerts(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	body := `{"status":"acknowledged","filter":{"rule_id":["noisy"]}}`
	code, b := f.send(t, http.MethodPost, "ncc-key", "/api/v1/alerts/triage", body)
	if code != 400 || !strings.Contains(string(b), `"too_many_alerts"`) {
		t.Fatalf("1001 alerts: %d %s", code, b)
	}
	code, b = f.send(t, http.MethodPost, "ncc-key", "/api/v1/alerts/triage", `{"status":"acknowledged","filter":{"rule_id":["noisy"],"from":"`+
		at.Add(time.Second).Format(time.RFC3339)+`"}}`)
	if code != 200 || !strings.Contains(string(b), `"triaged":1000`) {
		t.Errorf("1000 alerts: %d %.200s", code, b)
	}
}
