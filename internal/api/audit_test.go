package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/audit"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// auditHeads opens the audit heads bucket on an embedded NATS server of
// the test's own.
func auditHeads(t *testing.T) *bus.AuditHeads {
	t.Helper()
	srv := bustest.Server(t)
	nc := config.DefaultNATS()
	nc.URL = srv.ClientURL()
	h, err := bus.DialAuditHeads(context.Background(), nc, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func auditRows(t *testing.T, f *fixture, instance string) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := f.st.ScanAudit(context.Background(), instance, time.Minute, func(r audit.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditRecordsReadsAndChanges: every read of incident, event and alert
// data and every key change leaves a record (who, what, outcome, from
// where, request id), chained, with the head in the bucket; whoami does
// not.
func TestAuditRecordsReadsAndChanges(t *testing.T) {
	heads := auditHeads(t)
	f := newFixture(t, func(o *api.Options) { o.AuditHeads = heads; o.Config.Audit.Instance = "api-a" })
	type req struct{ method, key, target, body, action, outcome string }
	reqs := []req{
		{http.MethodGet, "ncc-key", "/api/v1/incidents?limit=5", "", "incident.list", "200"},
		{http.MethodGet, "owner-key", "/api/v1/incidents/7d2b5e4c-0f7a-4c1e-9a51-0b3c2f9d8e11", "", "incident.get", "404"},
		{http.MethodGet, "oisc-key", "/api/v1/events?limit=1", "", "event.list", "200"},
		{http.MethodGet, "sector-key", "/api/v1/alerts", "", "alert.list", "200"},
		{http.MethodGet, "regulator-key", "/api/v1/incidents", "", "incident.list", "403"},
		{http.MethodPost, "admin-key", "/api/v1/admin/keys", `{"name":"k1","role":"ncc-analyst"}`, "apikey.create", "201"},
		{http.MethodGet, "admin-key", "/api/v1/admin/keys", "", "apikey.list", "200"},
		{http.MethodGet, "ncc-key", "/api/v1/admin/keys", "", "apikey.list", "403"},
	}
	var keyID string
	for i, r := range reqs {
		code, b, hdr := send(t, f.srv, r.method, r.key, r.target, r.body, "X-Request-Id", "req-"+string(rune('a'+i)))
		if hdr.Get("X-Request-Id") != "req-"+string(rune('a'+i)) {
			t.Errorf("%s: request id %q", r.target, hdr.Get("X-Request-Id"))
		}
		if r.action == "apikey.create" {
			var k createdKey
			_ = json.Unmarshal(b, &k)
			keyID = k.ID
		}
		_ = code
	}
	code, _, _ := send(t, f.srv, http.MethodDelete, "admin-key", "/api/v1/admin/keys/"+keyID, "")
	if code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	reqs = append(reqs, req{http.MethodDelete, "admin-key", "", "", "apikey.revoke", "200"})
	if code, _ := f.get(t, "ncc-key", "/api/v1/whoami"); code != 200 {
		t.Fatal(code)
	}
	rows := auditRows(t, f, "api-a")
	if len(rows) != len(reqs) {
		t.Fatalf("%d audit rows for %d audited requests: %+v", len(rows), len(reqs), rows)
	}
	v := audit.NewVerifier("api-a", nil)
	for i, r := range rows {
		want := reqs[i]
		if r.Action != want.action || r.Outcome != want.outcome || r.ActorName != keys[want.key].Name {
			t.Errorf("row %d: %+v, want %s %s by %s", i, r, want.action, want.outcome, want.key)
		}
		if r.RemoteAddr == "" || r.At.IsZero() || r.Seq != uint64(i+1) {
			t.Errorf("row %d: %+v", i, r)
		}
		if i < len(reqs)-1 && r.RequestID != "req-"+string(rune('a'+i)) {
			t.Errorf("row %d request id %q", i, r.RequestID)
		}
		if b := v.Add(r); b != nil {
			t.Fatalf("chain: %v", b)
		}
	}
	if rows[1].ResourceID != "7d2b5e4c-0f7a-4c1e-9a51-0b3c2f9d8e11" || rows[0].Detail != "limit=5" {
		t.Errorf("resource id %q, detail %q", rows[1].ResourceID, rows[0].Detail)
	}
	if rows[5].ResourceID != keyID || !strings.Contains(rows[5].Detail, "name=k1 role=ncc-analyst") || rows[8].ResourceID != keyID {
		t.Errorf("key rows: %+v %+v", rows[5], rows[8])
	}
	head, ok, err := heads.Get(context.Background(), "api-a")
	last := rows[len(rows)-1]
	if err != nil || !ok || head.Seq != last.Seq || head.Hash != last.Hash {
		t.Fatalf("head %+v %v %v, last row seq %d", head, ok, err, last.Seq)
	}

	// A restarted instance continues the chain after its head.
	f2, err := api.New(api.Options{Config: f.cfg, Store: f.st, AuditHeads: heads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f2.Stop(context.Background()) })
	if code, _, _ := send(t, f2, http.MethodGet, "ncc-key", "/api/v1/alerts", ""); code != 200 {
		t.Fatal(code)
	}
	rows = auditRows(t, f, "api-a")
	if r := rows[len(rows)-1]; r.Seq != last.Seq+1 || r.PrevHash != last.Hash {
		t.Fatalf("after restart: %+v follows %+v", r, last)
	}
}

// TestAuditFailureRefusesTheRead: when the record cannot be written the read
// answers 503 audit_unavailable and shows none of the data.
func TestAuditFailureRefusesTheRead(t *testing.T) {
	f := newFixture(t, func(o *api.Options) { o.Config.Audit.Instance = "api-b"; o.Config.Audit.WriteTimeout = 2 * time.Second })
	if code, _ := f.get(t, "ncc-key", "/api/v1/events?limit=1"); code != 200 {
		t.Fatal(code)
	}
	if err := f.st.Exec(context.Background(), "DROP TABLE "+f.st.Table("audit_log")); err != nil {
		t.Fatal(err)
	}
	code, b := f.get(t, "ncc-key", "/api/v1/events?limit=5")
	var eb errBody
	if code != 503 || json.Unmarshal(b, &eb) != nil || eb.Error.Code != api.CodeAuditUnavailable || strings.Contains(string(b), "login failed") {
		t.Fatalf("read with the audit log gone: %d %s", code, b)
	}
	if code, _ := f.get(t, "ncc-key", "/api/v1/whoami"); code != 200 {
		t.Fatalf("unaudited route: %d", code)
	}
}
