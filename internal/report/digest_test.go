package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/report"
)

var digestTime = time.Date(2026, 11, 20, 19, 10, 0, 0, time.UTC) // 00:10 on the 21st in Almaty

// seededFigures are the figures the digest golden and PDF tests render:
// every table with rows, a withheld row in each.
func seededFigures() report.DigestFigures {
	return report.DigestFigures{
		Total: report.DigestCount{Incidents: 17, Organisations: 6},
		ByCategory: []report.DigestCount{{Key: "intrusion-attempts", Incidents: 12, Organisations: 5},
			{Key: "malicious-code", Withheld: true}, {Key: "information-gathering", Incidents: 4, Organisations: 3}},
		BySeverity: []report.DigestCount{{Key: "high", Incidents: 9, Organisations: 4}, {Key: "low", Incidents: 8, Organisations: 4}},
		BySector:   []report.DigestCount{{Key: "banking", Incidents: 13, Organisations: 4}, {Key: "electricity", Withheld: true}},
		ResponseTimes: []report.DigestTimes{
			{Key: "high", Incidents: 9, Acknowledged: &report.DigestDurations{N: 9, Mean: 1830, Median: 1500},
				Contained: &report.DigestDurations{N: 5, Mean: 93900, Median: 90000}},
			{Key: "low", Withheld: true}},
		Timeliness: []report.DigestTimeliness{{Regime: "kz_oisc_to_ncc", Stage: "immediate", OnTime: 11, Late: 3, Overdue: 1, Pending: 1, Waived: 1},
			{Regime: "kz_pd_breach", Stage: "initial", Withheld: true}},
		National: report.DigestCount{Incidents: 2, Organisations: 4},
	}
}

func seededDigest(t testing.TB, lang report.Lang) *report.Digest {
	t.Helper()
	spec := report.DigestSpec{Kind: report.Daily, Scope: report.NationalScope, Start: report.PeriodStart(report.Daily, digestTime.Add(-24*time.Hour))}
	d, err := report.BuildDigest(spec, seededFigures(), lang, digestTime)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDigestGolden compares the HTML of the seeded national daily digest
// in each language with testdata/golden/digest.<lang>.html (-update
// rewrites them).
func TestDigestGolden(t *testing.T) {
	for _, lang := range report.Langs {
		t.Run(string(lang), func(t *testing.T) {
			got, err := report.DigestHTML(seededDigest(t, lang))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", "digest."+string(lang)+".html")
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

// TestDigestPDFText: pdftotext extracts the Kazakh digest's title, labels
// and figures; the same digest gives the same bytes.
func TestDigestPDFText(t *testing.T) {
	d := seededDigest(t, report.Kazakh)
	pdf, err := report.DigestPDF(d)
	if err != nil {
		t.Fatal(err)
	}
	again, err := report.DigestPDF(d)
	if err != nil || !bytes.Equal(pdf, again) {
		t.Errorf("the same digest gives other bytes (%v)", err)
	}
	flat := strings.Join(strings.Fields(pdftotext(t, pdf)), " ")
	for _, w := range []string{"TLP:GREEN", "Ақпараттық қауіпсіздік бойынша күнделікті шолу: Ұлттық (барлық салалар), 2026-11-20",
		"Санаттар бойынша инциденттер (RSIT сыныбы)", "Ауырлық дәрежесі бойынша инциденттер", "Салалар бойынша инциденттер",
		"Хабарламалардың уақтылығы", "Ұлттық инциденттер", "Электр энергетикасы", "жасырылған", "жоғары",
		"kz_oisc_to_ncc", "00:25:00", "00:30:30", "25:00:00", "26:05:00",
		"2026-11-20 00:00:00 +05:00 (Asia/Almaty) – 2026-11-21 00:00:00 +05:00 (Asia/Almaty)"} {
		if !strings.Contains(flat, w) {
			t.Errorf("%q not extracted from the Kazakh digest PDF", w)
		}
	}
	if testing.Verbose() {
		t.Logf("kk digest: %d bytes", len(pdf))
	}
}

// TestDigestSpec: periods start at midnight in Almaty, months end on the
// next month's first, ids are deterministic and differ by every part.
func TestDigestSpec(t *testing.T) {
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, report.Zone)
	m := report.DigestSpec{Kind: report.Monthly, Scope: "sector:banking", Start: nov}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, report.Zone); !m.End().Equal(want) {
		t.Errorf("November ends %v", m.End())
	}
	dec31 := report.DigestSpec{Kind: report.Daily, Scope: report.NationalScope, Start: time.Date(2026, 12, 31, 0, 0, 0, 0, report.Zone)}
	if want := time.Date(2027, 1, 1, 0, 0, 0, 0, report.Zone); !dec31.End().Equal(want) {
		t.Errorf("31 December ends %v", dec31.End())
	}
	if got := report.PeriodStart(report.Daily, time.Date(2026, 11, 20, 19, 30, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, report.Zone)) {
		t.Errorf("19:30 UTC is on the 21st in Almaty: %v", got)
	}
	for _, bad := range []report.DigestSpec{
		{Kind: "weekly", Scope: report.NationalScope, Start: nov},
		{Kind: report.Daily, Scope: "sector:space", Start: nov},
		{Kind: report.Daily, Scope: "banking", Start: nov},
		{Kind: report.Monthly, Scope: report.NationalScope, Start: nov.AddDate(0, 0, 1)},
		{Kind: report.Daily, Scope: report.NationalScope, Start: nov.Add(time.Hour)},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	ids := map[string]bool{}
	for _, s := range []report.DigestSpec{m, {Kind: report.Daily, Scope: "sector:banking", Start: nov},
		{Kind: report.Monthly, Scope: report.NationalScope, Start: nov}, {Kind: report.Monthly, Scope: "sector:banking", Start: nov.AddDate(0, 1, 0)}} {
		for _, l := range report.Langs {
			ids[s.ID(l)] = true
		}
	}
	if len(ids) != 12 || m.ID(report.Kazakh) != (report.DigestSpec{Kind: report.Monthly, Scope: "sector:banking", Start: nov.UTC()}).ID(report.Kazakh) {
		t.Errorf("ids: %d distinct of 12, or not deterministic", len(ids))
	}
	scopes := report.DigestScopes()
	if len(scopes) != 13 || scopes[0] != report.NationalScope || !slices.Contains(scopes, "sector:digital_government") {
		t.Errorf("scopes: %v", scopes)
	}
}
