package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestReports generates digests on demand over incidents seeded with
// distinctive titles, descriptions, measures and entities, and checks
// that neither the HTML nor the PDF text carries any of them (TLP:GREEN,
// aggregates only) while the figures are there; the same request again
// answers the same id; readers see the national digest and their
// sectors', owners and admins none; every read is audited with its
// SHA-256.
func TestReports(t *testing.T) {
	f := newFixture(t, func(o *api.Options) { o.Config.Audit.Instance = "api-digest" })
	ctx := context.Background()
	yesterday := report.PeriodStart(report.Daily, time.Now()).AddDate(0, 0, -1)
	at := yesterday.Add(9 * time.Hour).UTC()
	secrets := []string{"SECRET-TITLE", "SECRET-DESCRIPTION", "SECRET-MEASURES", "203.0.113.77", "evil.example.org", "mallory"}
	var rows []store.StoredIncident
	for i, org := range []string{"b1", "b2", "b3", "b1"} {
		in := incident.Incident{ID: uuid.NewString(), Version: 1, Title: secrets[0] + "-" + org, Description: secrets[1], MeasuresTaken: secrets[2],
			Org: org, Orgs: []string{org}, Sectors: []string{"banking"}, CenterID: "oisc-a", Origin: incident.OriginOISCDetected,
			Status: incident.StatusNew, Severity: incident.SeverityHigh, TLP: incident.TLPAmber, RSITClass: "intrusion-attempts",
			RSITType: "brute-force", DetectedAt: at.Add(time.Duration(i) * time.Minute), AcknowledgedAt: at.Add(time.Duration(i)*time.Minute + 20*time.Minute),
			Entities: map[string][]string{"source.ip": {secrets[3]}, "destination.domain": {secrets[4]}, "user.name": {secrets[5]}}}
		rows = append(rows, store.StoredIncident{Incident: in, UpdatedAt: at})
	}
	if err := f.st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	post := func(key, body string) (int, store.DigestEntry, []byte) {
		code, b, _ := send(t, f.srv, http.MethodPost, key, "/api/v1/reports", body)
		var e store.DigestEntry
		_ = json.Unmarshal(b, &e)
		return code, e, b
	}
	day := yesterday.Format(time.DateOnly)
	code, kk, body := post("ncc-key", `{"kind":"daily","scope":"national","period_start":"`+day+`","lang":"kk"}`)
	if code != 201 || kk.ID != (report.DigestSpec{Kind: report.Daily, Scope: report.NationalScope, Start: yesterday}).ID(report.Kazakh) ||
		kk.TLP != "GREEN" || kk.GeneratedBy != "ncc" || len(kk.SHA256.PDF) != 64 {
		t.Fatalf("POST: %d %s", code, body)
	}
	if code, again, body := post("ncc-key", `{"kind":"daily","scope":"national","period_start":"`+yesterday.UTC().Format(time.RFC3339)+`","lang":"kk"}`); code != 201 || again.ID != kk.ID {
		t.Errorf("the same again: %d %s, want id %s", code, body, kk.ID)
	}
	code, en, body := post("ncc-key", `{"kind":"daily","scope":"sector:banking","period_start":"`+day+`","lang":"en"}`)
	if code != 201 {
		t.Fatalf("POST banking: %d %s", code, body)
	}
	if code, _, _ := post("ncc-key", `{"kind":"daily","scope":"sector:electricity","period_start":"`+day+`"}`); code != 201 {
		t.Errorf("POST electricity (lang default ru): %d", code)
	}

	// No incident's words in the digests; its figures are.
	for _, c := range []struct {
		id, format string
		want       []string
	}{
		{kk.ID, "html", []string{"TLP:GREEN", "Ұлттық инциденттер", "Басып кіру әрекеттері", "<td>4</td><td>3</td>", "00:20:00 (00:20:00; 4)"}},
		{kk.ID, "pdf", []string{"TLP:GREEN", "Ұлттық инциденттер", "Басып кіру әрекеттері", "Банк қызметі"}},
		{en.ID, "html", []string{"TLP:GREEN", "Daily information security digest: Banking", "Intrusion attempts", "<td>4</td><td>3</td>"}},
		{en.ID, "pdf", []string{"Daily information security digest: Banking", "Intrusion attempts"}},
	} {
		code, b, hdr := send(t, f.srv, http.MethodGet, "ncc-key", "/api/v1/reports/"+c.id+"?format="+c.format, "")
		if code != 200 {
			t.Fatalf("GET %s %s: %d %s", c.id, c.format, code, b)
		}
		if hdr.Get("X-Report-SHA256") != report.SHA256(b) || hdr.Get("X-TLP") != "GREEN" ||
			!strings.Contains(hdr.Get("Content-Disposition"), `filename="digest-daily-`) {
			t.Errorf("%s headers: %v", c.format, hdr)
		}
		text := string(b)
		if c.format == "pdf" {
			if hdr.Get("Content-Type") != "application/pdf" {
				t.Errorf("pdf Content-Type %q", hdr.Get("Content-Type"))
			}
			text = digestPDFText(t, b)
		}
		flat := strings.Join(strings.Fields(text), " ")
		for _, w := range c.want {
			if !strings.Contains(flat, w) {
				t.Errorf("%s %s lacks %q", c.id, c.format, w)
			}
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s %s carries %q", c.id, c.format, s)
			}
		}
	}

	// Readers.
	list := func(key, q string) (int, []store.DigestEntry) {
		code, b, _ := send(t, f.srv, http.MethodGet, key, "/api/v1/reports"+q, "")
		var ans struct {
			Reports []store.DigestEntry `json:"reports"`
		}
		_ = json.Unmarshal(b, &ans)
		return code, ans.Reports
	}
	scopesOf := func(es []store.DigestEntry) string {
		var s []string
		for _, e := range es {
			s = append(s, e.Scope)
		}
		return strings.Join(s, ",")
	}
	for key, want := range map[string]string{
		"ncc-key":       "national,sector:banking,sector:electricity",
		"regulator-key": "national,sector:banking",
		"sector-key":    "national,sector:electricity",
		"oisc-key":      "national",
	} {
		if code, got := list(key, ""); code != 200 || scopesOf(got) != want {
			t.Errorf("%s lists %d %q, want %q", key, code, scopesOf(got), want)
		}
	}
	if _, got := list("ncc-key", "?scope=sector:banking&kind=daily&lang=en&from="+yesterday.UTC().Format(time.RFC3339)); len(got) != 1 || got[0].ID != en.ID {
		t.Errorf("filtered: %+v", got)
	}
	if _, got := list("ncc-key", "?kind=monthly"); len(got) != 0 {
		t.Errorf("monthly: %+v", got)
	}
	if code, _, _ := send(t, f.srv, http.MethodGet, "sector-key", "/api/v1/reports/"+en.ID, ""); code != 404 {
		t.Errorf("the electricity analyst reads banking's digest: %d", code)
	}
	if code, _, _ := send(t, f.srv, http.MethodGet, "regulator-key", "/api/v1/reports/"+en.ID+"?format=pdf", ""); code != 200 {
		t.Errorf("the banking regulator reads banking's digest: %d", code)
	}
	for _, key := range []string{"owner-key", "admin-key"} {
		if code, _ := list(key, ""); code != 403 {
			t.Errorf("%s lists digests: %d", key, code)
		}
		if code, _, _ := send(t, f.srv, http.MethodGet, key, "/api/v1/reports/"+kk.ID, ""); code != 403 {
			t.Errorf("%s reads a digest: %d", key, code)
		}
	}
	for key, want := range map[string]int{"regulator-key": 403, "oisc-key": 403, "owner-key": 403} {
		if code, _, _ := post(key, `{"kind":"daily","scope":"national","period_start":"`+day+`"}`); code != want {
			t.Errorf("%s generates: %d, want %d", key, code, want)
		}
	}
	today := report.PeriodStart(report.Daily, time.Now()).Format(time.DateOnly)
	for body, want := range map[string]int{
		`{"kind":"daily","scope":"national","period_start":"` + today + `"}`:                         409,
		`{"kind":"weekly","scope":"national","period_start":"` + day + `"}`:                          400,
		`{"kind":"daily","scope":"sector:space","period_start":"` + day + `"}`:                       400,
		`{"kind":"monthly","scope":"national","period_start":"` + yesterday.Format("2006-01") + `"}`: 400,
		`{"kind":"daily","scope":"national","period_start":"` + day + `","lang":"de"}`:               400,
		`{"kind":"daily","scope":"national","period_start":"` + day + `","colour":"red"}`:            400,
	} {
		if code, _, b := post("ncc-key", body); code != want {
			t.Errorf("%s: %d %s, want %d", body, code, b, want)
		}
	}
	for q, want := range map[string]int{"?kind=weekly": 400, "?scope=banking": 400, "?from=yesterday": 400, "?colour=red": 400} {
		if code, _ := list("ncc-key", q); code != want {
			t.Errorf("list %s: %d, want %d", q, code, want)
		}
	}
	if code, _, _ := send(t, f.srv, http.MethodGet, "ncc-key", "/api/v1/reports/"+kk.ID+"?format=csv", ""); code != 400 {
		t.Errorf("format=csv: %d", code)
	}
	if code, _, _ := send(t, f.srv, http.MethodGet, "ncc-key", "/api/v1/reports/"+uuid.NewString(), ""); code != 404 {
		t.Errorf("a missing digest: %d", code)
	}

	// Every read is audited with the SHA-256 it served.
	reads := 0
	for _, r := range auditRows(t, f, "api-digest") {
		if r.Action == "report.get" && r.Outcome == "200" {
			reads++
			if !strings.Contains(r.Detail, "sha256=") || !strings.Contains(r.Detail, "format=") || r.ResourceID == "" {
				t.Errorf("audit record %+v", r)
			}
		}
	}
	if reads != 5 {
		t.Errorf("%d audited digest reads, want 5", reads)
	}
}

// digestPDFText is pdftotext's text of pdf; a missing pdftotext skips, or
// fails with CI=true.
func digestPDFText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext (poppler-utils) missing with CI=true")
		}
		t.Skip("pdftotext (poppler-utils) missing; make test installs it")
	}
	p := filepath.Join(t.TempDir(), "digest.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
