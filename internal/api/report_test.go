package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestIncidentReport exports a stored incident of the bank in every format
// over real ClickHouse: each answer has its format's Content-Type and
// Content-Disposition, carries the SHA-256 of its bytes, is marked with
// the incident's TLP, and leaves an audit record naming format, language,
// TLP and that SHA-256. An owner key of the other organisation, and an
// AMBER-ceiling key asking for a RED incident, get 404 like a missing
// incident; the RED incident's named recipient gets it, marked RED.
func TestIncidentReport(t *testing.T) {
	f := newFixture(t, func(o *api.Options) { o.Config.Audit.Instance = "api-report" })
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	mk := func(org, sector, oisc string, tlp incident.TLP, recipients ...string) incident.Incident {
		return incident.Incident{ID: uuid.NewString(), Version: 3, Title: "Password guessing on " + org, Org: org, Orgs: []string{org},
			Sectors: []string{sector}, CenterID: oisc, Origin: incident.OriginOISCDetected, Status: incident.StatusInProgress,
			RSITClass: "intrusion-attempts", RSITType: "brute-force", Determination: incident.DeterminationConfirmed,
			Criticality: 60, Severity: incident.SeverityHigh, TLP: tlp, TLPRecipients: recipients, AlertCount: 5,
			FirstActivityAt: at.Add(-time.Minute), DetectedAt: at, MeasuresTaken: "=cmd|' /C calc'!A0",
			Entities: map[string][]string{"source.ip": {"203.0.113.9"}, "user.name": {"admin"}},
			Stages: []incident.Stage{{Regime: "kz_oisc_to_ncc", Stage: "immediate", Anchor: "detected_at", DueAt: at.Add(time.Hour),
				Status: incident.StageSent, SentAt: at.Add(10 * time.Minute)}}}
	}
	amber := mk("bank", "banking", "oisc-a", incident.TLPAmber)
	red := mk("bank", "banking", "oisc-a", incident.TLPRed, "owner-green")
	grid := mk("grid", "electricity", "oisc-b", incident.TLPAmber)
	var rows []store.StoredIncident
	for _, in := range []incident.Incident{amber, red, grid} {
		rows = append(rows, store.StoredIncident{Incident: in, UpdatedAt: at})
	}
	if err := f.st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	path := func(in incident.Incident, q string) string { return "/api/v1/incidents/" + in.ID + "/report" + q }

	type want struct{ contentType, disposition string }
	digests := map[string]string{}
	for q, w := range map[string]want{
		"":                     {"application/json", "inline"},
		"?format=json&lang=kk": {"application/json", "inline"},
		"?format=html&lang=en": {"text/html; charset=utf-8", "inline"},
		"?format=csv":          {"text/csv; charset=utf-8", "attachment"},
		"?format=pdf&lang=kk":  {"application/pdf", "attachment"},
		"?format=stix":         {"application/stix+json;version=2.1", "attachment"},
	} {
		code, body, hdr := send(t, f.srv, http.MethodGet, "ncc-key", path(amber, q), "")
		if code != 200 {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, w.contentType) {
			t.Errorf("%s: Content-Type %q, want %q", q, ct, w.contentType)
		}
		if cd := hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, w.disposition+`; filename="incident-`+amber.ID+"-") {
			t.Errorf("%s: Content-Disposition %q", q, cd)
		}
		sum := sha256.Sum256(body)
		if got := hdr.Get("X-Report-SHA256"); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: X-Report-SHA256 %q is not the body's", q, got)
		}
		if hdr.Get("X-TLP") != "AMBER" {
			t.Errorf("%s: X-TLP %q", q, hdr.Get("X-TLP"))
		}
		digests[hdr.Get("X-Report-SHA256")] = q
		switch {
		case q == "" || strings.Contains(q, "json"):
			var r report.Report
			if err := json.Unmarshal(body, &r); err != nil || r.ID != amber.ID || r.TLP != incident.TLPAmber || r.Reporter == nil || r.Reporter.Name != "Bank" {
				t.Errorf("%s: report %v %+v", q, err, r)
			}
			if wantLang := map[bool]report.Lang{true: report.Russian, false: report.Kazakh}[q == ""]; r.Lang != wantLang {
				t.Errorf("%s: language %s, want %s", q, r.Lang, wantLang)
			}
		case strings.Contains(q, "html"):
			if !bytes.Contains(body, []byte("Information security incident report")) || !strings.Contains(hdr.Get("Content-Security-Policy"), "style-src 'sha256-") {
				t.Errorf("html: CSP %q", hdr.Get("Content-Security-Policy"))
			}
		case strings.Contains(q, "csv"):
			if !bytes.Contains(body, []byte(`'=cmd|`)) {
				t.Errorf("csv: the formula is not escaped:\n%s", body)
			}
		case strings.Contains(q, "pdf"):
			if !bytes.HasPrefix(body, []byte("%PDF-")) {
				t.Errorf("pdf: %q", body[:min(16, len(body))])
			}
		case strings.Contains(q, "stix"):
			var b struct {
				Type    string           `json:"type"`
				Objects []map[string]any `json:"objects"`
			}
			if err := json.Unmarshal(body, &b); err != nil || b.Type != "bundle" || len(b.Objects) < 6 {
				t.Errorf("stix: %v %s", err, body)
			}
		}
	}

	// Out of scope, above the ceiling, missing: 404 alike. The RED one's
	// named recipient reads it, marked RED throughout.
	for _, c := range []struct {
		key  string
		in   incident.Incident
		code int
	}{
		{"owner-key", grid, 404}, {"owner-key", red, 404}, {"ncc-key", red, 404}, {"oisc-key", amber, 404},
		{"owner-key", amber, 200}, {"owner-green-key", red, 200}, {"owner-green-key", amber, 404},
		{"ncc-key", incident.Incident{ID: uuid.NewString()}, 404}, {"regulator-key", amber, 403},
	} {
		for _, format := range []string{"json", "pdf", "stix"} {
			code, body, hdr := send(t, f.srv, http.MethodGet, c.key, path(c.in, "?format="+format), "")
			if code != c.code {
				t.Errorf("%s exports the %s incident of %s as %s: %d, want %d: %s", c.key, c.in.TLP, c.in.Org, format, code, c.code, body)
			}
			if code == 200 && c.in.TLP == incident.TLPRed {
				if hdr.Get("X-TLP") != "RED" || format == "stix" && (!bytes.Contains(body, []byte(report.TLPMarkings[incident.TLPRed])) ||
					bytes.Contains(body, []byte(report.TLPMarkings[incident.TLPAmber]))) {
					t.Errorf("the RED incident exported as %s is not RED (X-TLP %q)", format, hdr.Get("X-TLP"))
				}
			}
		}
	}
	for q, field := range map[string]string{"?format=docx": "format", "?lang=de": "lang", "?format=pdf&page=2": "page"} {
		code, body, _ := send(t, f.srv, http.MethodGet, "ncc-key", path(amber, q), "")
		var eb errBody
		if code != 400 || json.Unmarshal(body, &eb) != nil || eb.Error.Field != field {
			t.Errorf("%s: %d %s, want 400 on %s", q, code, body, field)
		}
	}

	// Every export is in the audit log with its SHA-256.
	recorded := map[string]bool{}
	for _, r := range auditRows(t, f, "api-report") {
		if r.Action != "incident.report" || r.Outcome != "200" {
			continue
		}
		_, sum, ok := strings.Cut(r.Detail, "sha256=")
		if !ok || r.ResourceID == "" || !strings.Contains(r.Detail, "format=") || !strings.Contains(r.Detail, "lang=") {
			t.Errorf("audit record %+v", r)
		}
		recorded[sum] = true
	}
	for sum, q := range digests {
		if !recorded[sum] {
			t.Errorf("the export %s (sha256 %s) is not in the audit log", q, sum)
		}
	}
}
