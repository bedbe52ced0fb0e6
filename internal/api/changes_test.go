package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

const changesRegistry = `version: 1
centers:
  - {id: ncc, name: NCC, kind: ncc}
  - {id: oisc-a, name: OISC A, kind: oisc, parent: ncc}
  - {id: oisc-b, name: OISC B, kind: oisc, parent: ncc}
organisations:
  - {id: bank, name: Bank, sectors: [banking], oiscs: [oisc-a]}
  - {id: grid, name: Grid, sectors: [electricity], oiscs: [oisc-b]}
objects:
  - {id: cbs, name: Core banking, kind: information_system, owner: bank, sector: banking, criticality: 1, oisc: oisc-a}
  - {id: scada-1, name: SCADA, kind: technological_platform, owner: grid, sector: electricity, criticality: 1, oisc: oisc-b}
`

// changesFixture is the API with the ncc's incident stage behind it, on a
// real NATS and ClickHouse: the stage answers the API's changes and new
// incidents, computes the shipped regimes' clocks and sends notifications.
type changesFixture struct {
	srv   *api.Server
	st    *store.Store
	js    interface{ Conn() *nats.Conn }
	stage *grouping.Stage
	nc    *nats.Conn
	mu    sync.Mutex
	got   map[string][]notify.Payload // by subject
}

func newChangesFixture(t *testing.T) *changesFixture {
	t.Helper()
	st := storetest.Open(t)
	ns := bustest.Server(t)
	nc, js := bustest.Connect(t, ns)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Parse([]byte(changesRegistry))
	if err != nil {
		t.Fatal(err)
	}
	root := conformance.ModuleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "configs", "regimes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	regs, err := incident.ParseRegimes(data, os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	resolver := notify.NewResolver(reg)
	clocks, err := incident.NewClocks(incident.ClockOptions{Regimes: regs, Resolve: resolver.Resolve})
	if err != nil {
		t.Fatal(err)
	}
	cfg := incident.DefaultConfig()
	cfg.RSITFile = filepath.Join(root, "configs", "rsit.yaml")
	cfg.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}}
	stg, err := grouping.Start(ctx, js, st, grouping.Options{Config: cfg, Partitions: 4, Member: "ncc-1", Clocks: clocks,
		Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond, Tick: 50 * time.Millisecond,
		Registerer: prometheus.NewRegistry(), Registry: resolver.Registry,
		Notify: &grouping.NotifyOptions{Builder: &notify.Builder{Resolver: resolver, Regimes: regs}, Backoff: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stg.Stop(context.Background()) })
	acfg := config.DefaultAPI()
	acfg.Listen, acfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	acfg.RegistryFile = registryFile(t)
	for k, v := range keys {
		v.Hash = access.HashKey(k)
		acfg.Keys = append(acfg.Keys, v)
	}
	acfg.NATS.URL = ns.ClientURL()
	// The tests present unknown keys on purpose, from one address.
	acfg.Limits.MaxAuthFailuresPerIP = 1000000
	srv, err := api.New(api.Options{Config: acfg, Store: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	f := &changesFixture{srv: srv, st: st, stage: stg, nc: nc, got: map[string][]notify.Payload{}}
	if _, err := nc.Subscribe("kuzet.notify.*.*", func(m *nats.Msg) {
		var p notify.Payload
		_ = json.Unmarshal(m.Data, &p)
		f.mu.Lock()
		f.got[m.Subject] = append(f.got[m.Subject], p)
		f.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *changesFixture) do(t *testing.T, method, key, target, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.App().Test(req, 20000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// sendAlert stores an alert and publishes it to the incident stage, as
// the ncc does.
func (f *changesFixture) sendAlert(t *testing.T, rule, org, object, sector, oisc string) alert.Alert {
	t.Helper()
	js, err := f.nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	a := alert.Alert{ID: uuid.New(), ReceivedAt: now, DetectedAt: now, EventTime: now, RuleID: rule, RuleTitle: rule,
		Level: "high", OISC: oisc, Org: org, Object: object, Sector: sector, Asset: "known", Criticality: 1,
		EventIDs: []string{uuid.NewString()}}
	if err := f.st.InsertAlerts(context.Background(), []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(a)
	if _, err := js.Publish(bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *changesFixture) incidents(t *testing.T, org string) []incident.Incident {
	t.Helper()
	var out []incident.Incident
	if _, err := f.st.StreamIncidents(context.Background(), store.IncidentQuery{Limit: 50, Scope: access.EventScope{Org: org}}, func(doc []byte) error {
		var in incident.Incident
		err := json.Unmarshal(doc, &in)
		out = append(out, in)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func eventually(t *testing.T, what string, d time.Duration, ok func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func errorCode(body []byte) string {
	var e struct {
		Error struct{ Code, Field string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code + "/" + e.Error.Field
}

// TestAnalystChangesAndDeclaresAnAutomatedIncident: an automated incident
// of an OISC that does not send on its own waits, unsent; its analyst's
// changes go along the state machine at the version seen (a stale one is
// 409 version_conflict, a jump 409 invalid_transition), other scopes get
// 404; the declaration confirms it at once (receipt, no second incident),
// the NCC's notification goes out and the NCC acknowledges it through the
// API.
func TestAnalystChangesAndDeclaresAnAutomatedIncident(t *testing.T) {
	f := newChangesFixture(t)
	js, err := f.nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	a := alert.Alert{ID: uuid.New(), ReceivedAt: now, DetectedAt: now, EventTime: now, RuleID: "r-scan", RuleTitle: "Scan",
		Level: "high", OISC: "oisc-b", Org: "grid", Object: "scada-1", Sector: "electricity", Asset: "known", Criticality: 1,
		SourceIP: "203.0.113.9", EventIDs: []string{"e1"}}
	data, _ := json.Marshal(a)
	if _, err := js.Publish(bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
		t.Fatal(err)
	}
	var in incident.Incident
	eventually(t, "the automated incident", 20*time.Second, func() error {
		ins := f.incidents(t, "grid")
		if len(ins) != 1 || len(ins[0].Stages) == 0 {
			return fmt.Errorf("%d incidents", len(ins))
		}
		in = ins[0]
		return nil
	})
	if in.Stages[0].Regime != "kz_oisc_to_ncc" || in.Stages[0].Status != incident.StagePending || !in.Stages[0].SentAt.IsZero() {
		t.Fatalf("before the declaration: %+v", in.Stages)
	}
	path := "/api/v1/incidents/" + in.ID
	for _, c := range []struct {
		key, body, ifMatch string
		want               int
		code               string
	}{
		{"oisc-key", `{"assignee":"aigerim"}`, fmt.Sprint(in.Version + 1000), 409, "version_conflict/"},
		{"oisc-key", `{"status":"resolved"}`, "", 409, "invalid_transition/status"},
		{"oisc-key", `{"status":"closed","resolution":"handled"}`, "", 409, "invalid_transition/status"},
		{"oisc-key", `{"determination":"maybe"}`, "", 422, "invalid_change/"},
		{"oisc-key", `{"assignee":"aigerim","colour":"red"}`, "", 400, "unknown_field/colour"},
		{"oisc-key", `{"assignee":`, "", 400, "invalid_body/"},
		{"oisc-key", `{"assignee":"aigerim"}`, "banana", 400, "invalid_parameter/If-Match"},
		{"owner-key", `{"comment":"x"}`, "", 404, "not_found/"},  // the bank's owner: not its incident
		{"owner-key", `{"assignee":"x"}`, "", 403, "forbidden/"}, // and an owner assigns nothing
		{"sector-key", `{"comment":"seen"}`, "", 200, ""},        // electricity is its sector
		{"regulator-key", `{"comment":"x"}`, "", 403, "forbidden/"},
	} {
		hdr := []string{}
		if c.ifMatch != "" {
			hdr = append(hdr, "If-Match", `"`+c.ifMatch+`"`)
		}
		code, _, body := f.do(t, http.MethodPatch, c.key, path, c.body, hdr...)
		if code != c.want || c.code != "" && errorCode(body) != c.code {
			t.Errorf("%s PATCH %s (If-Match %q): %d %s, want %d %s", c.key, c.body, c.ifMatch, code, body, c.want, c.code)
		}
	}
	// At the current version: applied, a new ETag, acknowledged_at set.
	cur := f.incidents(t, "grid")[0]
	code, hdr, body := f.do(t, http.MethodPatch, "oisc-key", path, `{"assignee":"aigerim","status":"triage"}`, "If-Match", fmt.Sprintf(`"%d"`, cur.Version))
	var changed incident.Incident
	if code != 200 || json.Unmarshal(body, &changed) != nil || changed.Assignee != "aigerim" || changed.Status != incident.StatusTriage ||
		hdr.Get("ETag") != fmt.Sprintf(`"%d"`, changed.Version) || changed.AcknowledgedAt.IsZero() {
		t.Fatalf("assign at the current version: %d %s (ETag %s)", code, body, hdr.Get("ETag"))
	}
	// An analyst marks the scanner's address as an indicator: the STIX
	// export carries an Indicator for it.
	code, _, body = f.do(t, http.MethodPatch, "oisc-key", path, `{"mark_indicators":["source.ip=203.0.113.9"]}`)
	if code != 200 || !strings.Contains(string(body), `"indicators":["source.ip=203.0.113.9"]`) {
		t.Fatalf("mark an indicator: %d %s", code, body)
	}
	if code, _, body := f.do(t, http.MethodPatch, "oisc-key", path, `{"mark_indicators":["203.0.113.9"]}`); code != 400 {
		t.Errorf("an indicator without its field: %d %s, want 400", code, body)
	}
	code, _, body = f.do(t, http.MethodGet, "oisc-key", path+"/report?format=stix", "")
	var bundle struct {
		Objects []struct {
			Type    string `json:"type"`
			Pattern string `json:"pattern"`
		} `json:"objects"`
	}
	found := false
	if code == 200 && json.Unmarshal(body, &bundle) == nil {
		for _, o := range bundle.Objects {
			found = found || o.Type == "indicator" && strings.Contains(o.Pattern, "203.0.113.9")
		}
	}
	if !found {
		t.Errorf("the STIX export has no indicator of the marked address: %d %.300s", code, body)
	}
	// Declaring: the receipt at once, the stage released and sent.
	code, _, body = f.do(t, http.MethodPost, "oisc-key", path+"/declare", `{"comment":"confirmed by the OISC"}`)
	var rc api.Receipt
	if code != 200 || json.Unmarshal(body, &rc) != nil || rc.ID != in.ID || len(rc.Stages) == 0 {
		t.Fatalf("declare: %d %s", code, body)
	}
	if code, _, _ := f.do(t, http.MethodPost, "owner-key", path+"/declare", ``); code != 403 {
		t.Errorf("an owner declaring: %d, want 403", code)
	}
	var ncc notify.Payload
	eventually(t, "the NCC's notification", 20*time.Second, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if ps := f.got["kuzet.notify.ncc.ncc"]; len(ps) == 1 {
			ncc = ps[0]
			return nil
		}
		return fmt.Errorf("NCC notifications: %d", len(f.got["kuzet.notify.ncc.ncc"]))
	})
	if ncc.Incident.ID != in.ID || ncc.Incident.Determination != "confirmed" {
		t.Errorf("the NCC's notification: %+v", ncc.Incident)
	}
	if got := f.incidents(t, "grid"); len(got) != 1 {
		t.Errorf("%d incidents after the declaration, want the one", len(got))
	}
	// The NCC lists and acknowledges it; the grid's owner may not.
	// (The delivery log row follows the delivery by a moment.)
	eventually(t, "the NCC's notifications listed", 10*time.Second, func() error {
		code, _, body := f.do(t, http.MethodGet, "ncc-key", "/api/v1/notifications", "")
		if code != 200 || !strings.Contains(string(body), ncc.NotificationID) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if code, _, _ := f.do(t, http.MethodPost, "owner-key", "/api/v1/notifications/"+ncc.NotificationID+"/ack", ""); code != 404 {
		t.Errorf("another recipient acknowledging: %d, want 404", code)
	}
	if code, _, body := f.do(t, http.MethodPost, "ncc-key", "/api/v1/notifications/"+ncc.NotificationID+"/ack", ""); code != 202 {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	eventually(t, "acknowledged_at", 20*time.Second, func() error {
		for _, s := range f.incidents(t, "grid")[0].Stages {
			for _, n := range s.Notifications {
				if n.ID == ncc.NotificationID && !n.AcknowledgedAt.IsZero() {
					return nil
				}
			}
		}
		return fmt.Errorf("not acknowledged yet")
	})
}

// TestOwnerSelfReport: an owner reports an incident of its own object and
// gets a receipt with its deadlines at once; a retry with the same
// Idempotency-Key returns the same receipt and creates nothing; the key
// with another body is refused; bad fields name themselves; with no ncc to
// store it the API answers 503 and nothing is stored.
func TestOwnerSelfReport(t *testing.T) {
	f := newChangesFixture(t)
	detected := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	body := fmt.Sprintf(`{"object_ids":["cbs"],"title":"Ransomware on the core banking system","description":"Files encrypted",
		"detected_at":%q,"rsit_class":"malicious-code","rsit_type":"infected-system","functional_impact":"high",
		"information_impact":["availability"],"recoverability":"supplemented","measures_taken":"isolated the segment",
		"contacts":[{"name":"A. Seitkali","role":"ciso","phone":"+7 727 000 0001"}],"indicators":{"file.hash.sha256":["`+strings.Repeat("a", 64)+`"]},
		"affected":{"systems":3}}`, detected.Format(time.RFC3339))
	code, hdr, resp := f.do(t, http.MethodPost, "owner-key", "/api/v1/incidents", body, "Idempotency-Key", "report-2026-12-03-1")
	var rc api.Receipt
	if code != 201 || json.Unmarshal(resp, &rc) != nil {
		t.Fatalf("self-report: %d %s", code, resp)
	}
	if rc.Origin != "owner_self_identified" || len(rc.Stages) != 1 || rc.Stages[0].Regime != "kz_owner_self_identified" ||
		!rc.Stages[0].DueAt.Equal(detected.Add(time.Hour)) || hdr.Get("Location") != "/api/v1/incidents/"+rc.ID {
		t.Fatalf("receipt: %s (Location %s)", resp, hdr.Get("Location"))
	}
	code, hdr, again := f.do(t, http.MethodPost, "owner-key", "/api/v1/incidents", body, "Idempotency-Key", "report-2026-12-03-1")
	var rc2 api.Receipt
	// The replay is the receipt as it is now: the same incident, received
	// at the same instant, with the same deadlines; its version (and a
	// stage's sent_at) may have moved on, as a notification went out.
	if code != 200 || hdr.Get("Idempotent-Replayed") != "true" || json.Unmarshal(again, &rc2) != nil || rc2.ID != rc.ID ||
		rc2.Version < rc.Version || !rc2.ReceivedAt.Equal(rc.ReceivedAt) || len(rc2.Stages) != 1 || !rc2.Stages[0].DueAt.Equal(rc.Stages[0].DueAt) {
		t.Errorf("the retry: %d %s", code, again)
	}
	if code, _, resp := f.do(t, http.MethodPost, "owner-key", "/api/v1/incidents", strings.Replace(body, "Files encrypted", "Other", 1),
		"Idempotency-Key", "report-2026-12-03-1"); code != 409 || errorCode(resp) != "idempotency_conflict/" {
		t.Errorf("the key with another body: %d %s", code, resp)
	}
	if ins := f.incidents(t, "bank"); len(ins) != 1 || ins[0].Description != "Files encrypted" || ins[0].Severity != incident.SeverityHigh {
		t.Errorf("stored: %d incidents (%+v)", len(ins), ins)
	}
	// The NCC and the bank's OISC are notified at once.
	eventually(t, "the self-report's notifications", 20*time.Second, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.got["kuzet.notify.ncc.ncc"]) != 1 || len(f.got["kuzet.notify.oisc.oisc-a"]) != 1 {
			return fmt.Errorf("got %v", f.got)
		}
		return nil
	})
	for _, c := range []struct{ body, code string }{
		{`{"object_ids":["cbs"],"rsit_class":"malicious-code","rsit_type":"infected-system"}`, "invalid_field/detected_at"},
		{strings.Replace(body, `"cbs"`, `"scada-1"`, 1), "unknown_object/object_ids[0]"},
		{strings.Replace(body, `"infected-system"`, `"nonsense"`, 1), "invalid_field/rsit_type"},
		{strings.Replace(body, `"functional_impact":"high"`, `"functional_impact":"huge"`, 1), "invalid_field/functional_impact"},
		{strings.Replace(body, `"title"`, `"tittle"`, 1), "unknown_field/tittle"},
		{`{"org":"grid","detected_at":"2026-01-01T00:00:00Z","rsit_class":"malicious-code","rsit_type":"infected-system"}`, "invalid_field/org"},
		{strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), "too_deep/"},
		{"{\"title\":\"\xff\"}", "invalid_body/"},
	} {
		if code, _, resp := f.do(t, http.MethodPost, "owner-key", "/api/v1/incidents", c.body); code/100 != 4 || errorCode(resp) != c.code {
			t.Errorf("%.60s: %d %s, want 4xx %s", c.body, code, resp, c.code)
		}
	}
	if code, _, _ := f.do(t, http.MethodPost, "regulator-key", "/api/v1/incidents", body); code != 403 {
		t.Errorf("a regulator reporting: %d, want 403", code)
	}
	// No ncc: 503 and nothing stored.
	if err := f.stage.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, _, resp = f.do(t, http.MethodPost, "owner-key", "/api/v1/incidents", strings.Replace(body, "Files encrypted", "Second", 1),
		"Idempotency-Key", "report-2026-12-03-2")
	if code != 503 || errorCode(resp) != "unavailable/" {
		t.Errorf("with no ncc: %d %s, want 503", code, resp)
	}
	if ins := f.incidents(t, "bank"); len(ins) != 1 {
		t.Errorf("%d incidents after the 503, want 1", len(ins))
	}
}

// TestMergeAndSplit: an analyst merges one incident into another of its
// organisation (the survivor holds both's alerts; the merged one is closed
// as its duplicate, and a later alert of the merged one's group joins the
// survivor), then splits alerts out into a new incident; owners may do
// neither, and incidents of two organisations do not merge.
func TestMergeAndSplit(t *testing.T) {
	f := newChangesFixture(t)
	send := func(rule, org, object, sector, oisc string) alert.Alert {
		return f.sendAlert(t, rule, org, object, sector, oisc)
	}
	byRule := func(org string) map[string]incident.Incident {
		out := map[string]incident.Incident{}
		for _, in := range f.incidents(t, org) {
			out[in.RuleIDs[0]] = in
		}
		return out
	}
	send("r1", "grid", "scada-1", "electricity", "oisc-b")
	r2a := send("r2", "grid", "scada-1", "electricity", "oisc-b")
	send("r3", "bank", "cbs", "banking", "oisc-a")
	var ins map[string]incident.Incident
	eventually(t, "three incidents", 20*time.Second, func() error {
		ins = byRule("grid")
		if len(ins) != 2 || len(f.incidents(t, "bank")) != 1 {
			return fmt.Errorf("grid %d, bank %d", len(ins), len(f.incidents(t, "bank")))
		}
		return nil
	})
	a, b := ins["r1"], ins["r2"]
	bank := f.incidents(t, "bank")[0]
	if code, _, _ := f.do(t, http.MethodPost, "owner-key", "/api/v1/incidents/"+bank.ID+"/merge", `{"into":"`+bank.ID+`"}`); code != 403 {
		t.Errorf("an owner merging: %d, want 403", code)
	}
	if code, _, body := f.do(t, http.MethodPost, "ncc-key", "/api/v1/incidents/"+bank.ID+"/merge", `{"into":"`+a.ID+`"}`); code != 422 {
		t.Errorf("merging two organisations' incidents: %d %s, want 422", code, body)
	}
	if code, _, body := f.do(t, http.MethodPost, "oisc-key", "/api/v1/incidents/"+bank.ID+"/merge", `{"into":"`+a.ID+`"}`); code != 404 {
		t.Errorf("merging an incident out of scope: %d %s, want 404", code, body)
	}
	// If-Match names the merged incident's version: a stale one is refused.
	if code, _, body := f.do(t, http.MethodPost, "oisc-key", "/api/v1/incidents/"+b.ID+"/merge", `{"into":"`+a.ID+`"}`,
		"If-Match", fmt.Sprintf(`"%d"`, b.Version+7)); code != 409 {
		t.Errorf("merging at a stale version: %d %s, want 409", code, body)
	}
	code, _, body := f.do(t, http.MethodPost, "oisc-key", "/api/v1/incidents/"+b.ID+"/merge", `{"into":"`+a.ID+`"}`,
		"If-Match", fmt.Sprintf(`"%d"`, b.Version))
	var survivor incident.Incident
	if code != 200 || json.Unmarshal(body, &survivor) != nil || survivor.ID != a.ID || survivor.AlertCount != 2 {
		t.Fatalf("merge: %d %s", code, body)
	}
	eventually(t, "the merged incident closed as a duplicate", 10*time.Second, func() error {
		if m := byRule("grid")["r2"]; m.Status != incident.StatusClosed || m.DuplicateOf != a.ID {
			return fmt.Errorf("%s %s", m.Status, m.DuplicateOf)
		}
		return nil
	})
	// A later alert of the merged group joins the survivor.
	r2b := send("r2", "grid", "scada-1", "electricity", "oisc-b")
	eventually(t, "the later alert in the survivor", 20*time.Second, func() error {
		d, err := f.st.GetIncident(context.Background(), a.ID, access.EventScope{}, 100)
		if err != nil {
			return err
		}
		if len(d.Alerts) != 3 {
			return fmt.Errorf("survivor holds %d alerts", len(d.Alerts))
		}
		return nil
	})
	// Split the r2 alerts out again.
	code, hdr, body := f.do(t, http.MethodPost, "oisc-key", "/api/v1/incidents/"+a.ID+"/split",
		fmt.Sprintf(`{"alert_ids":[%q,%q]}`, r2a.ID, r2b.ID))
	var child incident.Incident
	if code != 201 || json.Unmarshal(body, &child) != nil || child.Parent != a.ID || hdr.Get("Location") != "/api/v1/incidents/"+child.ID {
		t.Fatalf("split: %d %s", code, body)
	}
	for id, want := range map[string]int{a.ID: 1, child.ID: 2} {
		d, err := f.st.GetIncident(context.Background(), id, access.EventScope{}, 100)
		if err != nil || len(d.Alerts) != want {
			t.Errorf("after the split, %s holds %d alerts (%v), want %d", id, len(d.Alerts), err, want)
		}
	}
	if code, _, body := f.do(t, http.MethodPost, "oisc-key", "/api/v1/incidents/"+a.ID+"/split", fmt.Sprintf(`{"alert_ids":[%q]}`, uuid.New())); code != 422 {
		t.Errorf("splitting an alert the incident does not hold: %d %s, want 422", code, body)
	}
}

// TestAdminRegistry: an admin imports the registry, reads it with its
// version, replaces an organisation's notification endpoint at that
// version (a stale one is 409), and cannot leave it invalid (removing an
// organisation its objects name is 422); other roles get 403.
func TestAdminRegistry(t *testing.T) {
	f := newChangesFixture(t)
	if code, _, body := f.do(t, http.MethodPut, "admin-key", "/api/v1/admin/registry", changesRegistry); code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	code, hdr, body := f.do(t, http.MethodGet, "admin-key", "/api/v1/admin/registry", "")
	var reg registry.Registry
	if code != 200 || json.Unmarshal(body, &reg) != nil || len(reg.Objects) != 2 || hdr.Get("ETag") == "" {
		t.Fatalf("read: %d %s", code, body)
	}
	etag := hdr.Get("ETag")
	grid := `{"id":"grid","name":"Grid","sectors":["electricity"],"oiscs":["oisc-b"],"notify":{"channel":"email","email":["soc@grid.example"],"language":"kk"}}`
	if code, _, body := f.do(t, http.MethodPut, "admin-key", "/api/v1/admin/registry/organisations/grid", grid, "If-Match", etag); code != 200 {
		t.Fatalf("replace grid: %d %s", code, body)
	}
	if code, _, body := f.do(t, http.MethodPut, "admin-key", "/api/v1/admin/registry/organisations/grid", grid, "If-Match", etag); code != 409 {
		t.Errorf("at a stale version: %d %s, want 409", code, body)
	}
	_, _, body = f.do(t, http.MethodGet, "admin-key", "/api/v1/admin/registry", "")
	if err := json.Unmarshal(body, &reg); err != nil || reg.Organisation("grid").Notify.ChannelOrDefault() != registry.ChannelEmail {
		t.Errorf("grid's endpoint after the change: %s", body)
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodDelete, "/api/v1/admin/registry/organisations/bank", "", 422},                       // its object cbs names it
		{http.MethodPut, "/api/v1/admin/registry/organisations/grid", `{"id":"other","name":"x"}`, 400}, // id mismatch
		{http.MethodPut, "/api/v1/admin/registry/organisations/grid", `{"id":"grid","name":"x","sectors":["space"]}`, 422},
		{http.MethodPut, "/api/v1/admin/registry/planets/earth", `{}`, 404},
		{http.MethodDelete, "/api/v1/admin/registry/objects/none", "", 404},
		{http.MethodPut, "/api/v1/admin/registry", "version: 2\n", 422},
	} {
		if code, _, body := f.do(t, c.method, "admin-key", c.path, c.body); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}
	if code, _, _ := f.do(t, http.MethodDelete, "admin-key", "/api/v1/admin/registry/objects/cbs", ""); code != 200 {
		t.Errorf("removing an object: %d", code)
	}
	for _, key := range []string{"ncc-key", "oisc-key", "owner-key", "regulator-key"} {
		if code, _, _ := f.do(t, http.MethodGet, key, "/api/v1/admin/registry", ""); code != 403 {
			t.Errorf("%s reads the registry: %d, want 403", key, code)
		}
	}
}
