package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestDigests: a day's figures over seeded incidents (three banks, one
// grid, a national incident and a RED one), the digests stored, listed by
// scope and kind, read back byte for byte, and regenerated under the same
// ids, leaving one row each, the newest.
func TestDigests(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, report.Zone)
	at := day.Add(10 * time.Hour)
	var rows []store.StoredIncident
	add := func(in incident.Incident) {
		in.ID, in.Version, in.DetectedAt, in.Status = uuid.NewString(), 1, at, incident.StatusNew
		if in.TLP == "" {
			in.TLP = incident.TLPAmber
		}
		rows = append(rows, store.StoredIncident{Incident: in, UpdatedAt: at})
	}
	for _, org := range []string{"b1", "b2", "b3"} {
		add(incident.Incident{Org: org, Orgs: []string{org}, Sectors: []string{"banking"}, Severity: incident.SeverityHigh,
			RSITClass: "intrusion-attempts", RSITType: "brute-force", AcknowledgedAt: at.Add(5 * time.Minute)})
	}
	add(incident.Incident{Org: "g1", Orgs: []string{"g1"}, Sectors: []string{"electricity"}, Severity: incident.SeverityLow,
		RSITClass: "malicious-code", RSITType: "infected-system"})
	add(incident.Incident{National: true, Orgs: []string{"b1", "b2", "g1"}, Sectors: []string{"banking", "electricity"},
		Severity: incident.SeverityCritical, RSITClass: "intrusions", RSITType: "system-compromise"})
	add(incident.Incident{Org: "b1", Orgs: []string{"b1"}, Sectors: []string{"banking"}, Severity: incident.SeverityHigh, TLP: incident.TLPRed,
		TLPRecipients: []string{"x"}, RSITClass: "fraud", RSITType: "phishing"})
	if err := st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	national := report.DigestSpec{Kind: report.Daily, Scope: report.NationalScope, Start: day}
	fig, err := st.DigestFigures(ctx, national, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if fig.Total != (report.DigestCount{Incidents: 4, Organisations: 4}) || fig.National != (report.DigestCount{Incidents: 1, Organisations: 3}) ||
		len(fig.ByCategory) != 2 || fig.ByCategory[0] != (report.DigestCount{Key: "intrusion-attempts", Incidents: 3, Organisations: 3}) ||
		fig.ByCategory[1] != (report.DigestCount{Key: "malicious-code", Withheld: true}) || len(fig.BySector) != 2 ||
		len(fig.ResponseTimes) != 2 || fig.ResponseTimes[0].Acknowledged == nil || fig.ResponseTimes[0].Acknowledged.Median != 300 {
		t.Errorf("national figures: %+v", fig)
	}
	grid := report.DigestSpec{Kind: report.Daily, Scope: report.SectorScope("electricity"), Start: day}
	gfig, err := st.DigestFigures(ctx, grid, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !gfig.Total.Withheld || gfig.National != (report.DigestCount{Incidents: 1, Organisations: 3}) || gfig.BySector != nil {
		t.Errorf("electricity figures: %+v", gfig)
	}

	gen := day.AddDate(0, 0, 1).Add(10 * time.Minute)
	files, err := report.RenderDigests(national, fig, report.Langs, gen)
	if err != nil {
		t.Fatal(err)
	}
	gfiles, err := report.RenderDigests(grid, gfig, []report.Lang{report.Russian}, gen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InsertDigests(ctx, append(files, gfiles...), "ncc-1"); err != nil {
		t.Fatal(err)
	}
	// Another instance regenerates the national ones a minute later.
	again, err := report.RenderDigests(national, fig, report.Langs, gen.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InsertDigests(ctx, again, "ncc-2"); err != nil {
		t.Fatal(err)
	}
	all, err := st.ListDigests(ctx, store.DigestQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("%d digests listed, want 4: %+v", len(all), all)
	}
	for _, e := range all {
		if e.Scope == report.NationalScope && (e.GeneratedBy != "ncc-2" || !e.GeneratedAt.Equal(gen.Add(time.Minute))) {
			t.Errorf("the older generation kept: %+v", e)
		}
		if e.TLP != "GREEN" || !e.PeriodStart.Equal(day) || !e.PeriodEnd.Equal(day.AddDate(0, 0, 1)) {
			t.Errorf("entry %+v", e)
		}
	}
	if got, _ := st.ListDigests(ctx, store.DigestQuery{Scopes: []string{"sector:electricity"}}); len(got) != 1 || got[0].Lang != "ru" {
		t.Errorf("scoped to electricity: %+v", got)
	}
	if got, _ := st.ListDigests(ctx, store.DigestQuery{Scopes: []string{}}); len(got) != 0 {
		t.Errorf("no scopes lists %d", len(got))
	}
	if got, _ := st.ListDigests(ctx, store.DigestQuery{Kind: "monthly"}); len(got) != 0 {
		t.Errorf("monthly: %+v", got)
	}
	if got, _ := st.ListDigests(ctx, store.DigestQuery{From: day.AddDate(0, 0, 1)}); len(got) != 0 {
		t.Errorf("from the next day: %+v", got)
	}
	kk := again[0]
	e, pdf, err := st.Digest(ctx, kk.ID, "pdf", nil)
	if err != nil || string(pdf) != string(kk.PDF) || e.SHA256.PDF != report.SHA256(kk.PDF) {
		t.Errorf("pdf read back: %v, %d bytes, want %d", err, len(pdf), len(kk.PDF))
	}
	if _, _, err := st.Digest(ctx, kk.ID, "html", []string{"sector:banking"}); err != store.ErrNotFound {
		t.Errorf("a national digest read in a sector's scope: %v", err)
	}
	ids := []string{kk.ID, report.DigestSpec{Kind: report.Monthly, Scope: report.NationalScope, Start: report.PeriodStart(report.Monthly, day)}.ID(report.Kazakh)}
	have, err := st.DigestIDs(ctx, ids)
	if err != nil || !have[ids[0]] || have[ids[1]] {
		t.Errorf("ids stored: %v %v", have, err)
	}
}
