package report_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/report"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

func build(t testing.TB, in incident.Incident, lang report.Lang) *report.Report {
	t.Helper()
	r, err := report.Build(in, seededRegistry(t), lang, reportTime)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGolden compares the HTML and CSV of the seeded incident in each
// language with testdata/golden; go test -run TestGolden -update rewrites
// them (review the diff).
func TestGolden(t *testing.T) {
	for _, lang := range report.Langs {
		r := build(t, seeded(), lang)
		for _, c := range []struct {
			ext    string
			render func(*report.Report) ([]byte, error)
		}{{"html", report.HTML}, {"csv", report.CSV}} {
			t.Run(string(lang)+"."+c.ext, func(t *testing.T) {
				got, err := c.render(r)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", "report."+string(lang)+"."+c.ext)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the output (run with -update and review the diff):\n%s", path, firstDiff(want, got))
				}
			})
		}
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, w, g)
		}
	}
	return "(same lines)"
}

// TestCataloguesComplete: the three catalogues have the same keys, and no
// value is empty.
func TestCataloguesComplete(t *testing.T) {
	keys := func(l report.Lang) []string { return report.CatalogueKeys(l) }
	en := keys(report.English)
	if len(en) < 100 {
		t.Fatalf("the English catalogue has %d keys", len(en))
	}
	for _, l := range report.Langs {
		ks := keys(l)
		for _, k := range en {
			if !slices.Contains(ks, k) {
				t.Errorf("%s lacks %q", l, k)
			}
		}
		for _, k := range ks {
			if !slices.Contains(en, k) {
				t.Errorf("%s has %q, en does not", l, k)
			}
			if strings.TrimSpace(l.T(k)) == "" {
				t.Errorf("%s %q is empty", l, k)
			}
		}
	}
	// Every machine value the incident model defines has a word.
	var want []string
	for _, s := range incident.Statuses {
		want = append(want, "status."+string(s))
	}
	for _, d := range []incident.Determination{incident.DeterminationSuspected, incident.DeterminationConfirmed,
		incident.DeterminationFalsePositive, incident.DeterminationBlocked, incident.DeterminationFailedAttempt} {
		want = append(want, "determination."+string(d))
	}
	for _, s := range []incident.StageStatus{incident.StagePending, incident.StageSent, incident.StageLate, incident.StageWaived, incident.StageSuperseded} {
		want = append(want, "stage_status."+string(s))
	}
	for _, tlp := range []incident.TLP{incident.TLPRed, incident.TLPAmberStrict, incident.TLPAmber, incident.TLPGreen, incident.TLPClear} {
		want = append(want, "tlp."+string(tlp))
	}
	for _, k := range want {
		if !slices.Contains(en, k) {
			t.Errorf("no word for %q", k)
		}
	}
}

// TestReportFields: the report carries the notification fields kuzet has,
// with names in the report's language and times in Asia/Almaty.
func TestReportFields(t *testing.T) {
	kk := build(t, seeded(), report.Kazakh)
	if kk.Reporter == nil || kk.Reporter.BIN != "000140000099" || !strings.Contains(kk.Reporter.Name, "тәуелсіз") {
		t.Errorf("reporter %+v", kk.Reporter)
	}
	if len(kk.Reporter.Contacts) != 2 || kk.Reporter.Contacts[0].Name != "B. Nurlanova" {
		t.Errorf("contacts %+v: the declarer's first, then the registry's", kk.Reporter.Contacts)
	}
	if len(kk.Objects) != 1 || kk.Objects[0].Name != "SCADA Almaty-1" || kk.Objects[0].Class != 1 || kk.Objects[0].Sector.Text != "Электр энергетикасы" {
		t.Errorf("objects %+v", kk.Objects)
	}
	if kk.Center == nil || kk.Center.Name != "OISC Almaty (commercial)" || kk.NCC.ID != "ncc" {
		t.Errorf("center %+v, ncc %+v", kk.Center, kk.NCC)
	}
	if kk.Status.Text != "оқшауланған" || kk.Determination.Text != "расталған" || kk.TLP != incident.TLPAmber || kk.SourceTLP != incident.TLPAmber {
		t.Errorf("words %+v %+v, TLP %s/%s", kk.Status, kk.Determination, kk.TLP, kk.SourceTLP)
	}
	var detected *report.Instant
	for _, tm := range kk.Times {
		if tm.Field == "detected_at" {
			detected = tm.At
		}
	}
	if detected == nil || detected.String() != "2026-03-14 10:00:00 +05:00 (Asia/Almaty)" {
		t.Errorf("detected_at shown as %v", detected)
	}
	if len(kk.Stages) != 2 || kk.Stages[0].DueAt.Local != "2026-03-14 11:00:00 +05:00" || kk.Stages[0].AcknowledgedAt == nil ||
		len(kk.Stages[0].Notifications) != 2 || kk.Stages[1].SentAt != nil {
		t.Errorf("stages %+v", kk.Stages)
	}
	types := map[string]string{}
	for _, x := range kk.Indicators {
		types[x.Value] = x.STIXType
	}
	for v, want := range map[string]string{"203.0.113.7": "ipv4-addr", "2001:db8::7": "ipv6-addr", "operator": "user-account",
		"gw.zhana-grid.example": "domain-name", "scada-gw-01": "", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08": "file"} {
		if got, ok := types[v]; !ok || got != want {
			t.Errorf("indicator %s: type %q (listed %v), want %q", v, got, ok, want)
		}
	}
	en := build(t, seeded(), report.English)
	ru := build(t, seeded(), report.Russian)
	if en.Reporter.Name != "Zhana Grid JSC" || !strings.HasPrefix(ru.Reporter.Name, "АО «Жаңа Грид»") {
		t.Errorf("names: en %q, ru %q", en.Reporter.Name, ru.Reporter.Name)
	}
	// Without a registry the report keeps the ids.
	bare, err := report.Build(seeded(), nil, report.Russian, reportTime)
	if err != nil || bare.Reporter.Name != "zhana-grid" || bare.Objects[0].Name != "" || bare.NCC.ID != "ncc" {
		t.Errorf("without a registry: %v %+v", err, bare)
	}
	if _, err := report.Build(seeded(), nil, "de", reportTime); err == nil {
		t.Error("an unknown language is accepted")
	}
	red := seeded()
	red.TLP = incident.TLPRed
	if r := build(t, red, report.English); r.TLP != incident.TLPRed || r.SourceTLP != incident.TLPRed {
		t.Errorf("a RED incident reports as %s (source %s)", r.TLP, r.SourceTLP)
	}
}

// TestCSVEscapesFormulas: a cell starting with = + - @ (or a tab or CR)
// starts with ' in the CSV, and the file parses as CSV.
func TestCSVEscapesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+7 727": "'+7 727", "-x": "'-x", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "plain": "plain", "": "", "1-2": "1-2"} {
		if got := report.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
	b, err := report.CSV(build(t, seeded(), report.Russian))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], report.CSVHeader) {
		t.Errorf("header %q", rows[0])
	}
	seen := 0
	for _, row := range rows[1:] {
		if len(row) != 4 {
			t.Fatalf("row %q", row)
		}
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
			if strings.HasPrefix(cell, "'=HYPERLINK") || strings.HasPrefix(cell, "'@once") || strings.HasPrefix(cell, "'-remote") {
				seen++
			}
		}
	}
	if seen != 3 {
		t.Errorf("%d escaped cells of the seeded incident, want 3", seen)
	}
}

// TestHTMLEscapes: text of the incident is escaped, and the page loads
// nothing from elsewhere.
func TestHTMLEscapes(t *testing.T) {
	in := seeded()
	in.Title = `<script>alert(1)</script>`
	b, err := report.HTML(build(t, in, report.English))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "<script") || strings.Contains(s, "<b>not markup</b>") || !strings.Contains(s, "&lt;script&gt;") {
		t.Error("incident text is not escaped")
	}
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "url("} {
		if strings.Contains(strings.ReplaceAll(s, `http://evil.example`, ""), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if !strings.Contains(s, "@media print") || !strings.Contains(s, "TLP:AMBER") {
		t.Error("no print stylesheet or no TLP banner")
	}
}
