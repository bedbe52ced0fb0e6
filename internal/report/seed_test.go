package report_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// seeded is the incident the golden, PDF and STIX tests report: a
// declared, contained brute-force incident of a registered object with two
// notification stages, one sent and acknowledged, one pending, and entity
// values of every kind the STIX export maps (and one it does not).
func seeded() incident.Incident {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return incident.Incident{
		ID: "3f1c6a52-8d0e-5b7a-9c41-2e6f0d9b8a17", Version: 7,
		Title: "Password guessing against the SCADA gateway", Org: "zhana-grid", Orgs: []string{"zhana-grid"},
		Sectors: []string{"electricity"}, ObjectIDs: []string{"zhana-scada"}, CenterID: "oisc-almaty",
		Origin: incident.OriginOISCDetected, RuleIDs: []string{"kuzet-bruteforce"},
		RSITClass: "intrusion-attempts", RSITType: "brute-force", Status: incident.StatusContained,
		Determination: incident.DeterminationConfirmed, Criticality: 72, Severity: incident.SeverityHigh, TLP: incident.TLPAmber,
		Entities: map[string][]string{
			"source.ip":        {"203.0.113.7", "2001:db8::7"},
			"user.name":        {"operator"},
			"host.name":        {"scada-gw-01", "gw.zhana-grid.example"},
			"file.hash.sha256": {"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"},
			"url.full":         {"=HYPERLINK(\"http://evil.example\")"},
		},
		AlertCount:      42,
		FirstActivityAt: at("2026-03-14T04:58:10Z"), LastActivityAt: at("2026-03-14T05:20:00Z"),
		DetectedAt: at("2026-03-14T05:00:00Z"), AcknowledgedAt: at("2026-03-14T05:07:30Z"), AwareAt: at("2026-03-14T05:05:00Z"),
		DeclaredAt: at("2026-03-14T05:30:00Z"), ContainedAt: at("2026-03-14T06:15:00Z"),
		Description:       "42 failed logins for operator from one address in 20 minutes; the account was locked.\n<b>not markup</b>",
		FunctionalImpact:  "low",
		InformationImpact: []string{"integrity"},
		Recoverability:    "regular",
		AttackVector:      "-remote access (VPN)",
		MeasuresTaken:     "@once: the source address blocked at the perimeter; the operator's password reset.",
		Affected:          &incident.Affected{Systems: 1, Users: 1},
		ReporterContacts:  []incident.ReporterContact{{Name: "B. Nurlanova", Role: "management", Phone: "+7 727 000 0100"}},
		ReportedBy:        "oisc-almaty-analyst",
		Stages: []incident.Stage{
			{Regime: "kz_oisc_to_ncc", Stage: "immediate", Anchor: "detected_at", AnchorAt: at("2026-03-14T05:00:00Z"),
				DueAt: at("2026-03-14T06:00:00Z"), Status: incident.StageSent, SentAt: at("2026-03-14T05:31:00Z"),
				AcknowledgedAt: at("2026-03-14T05:40:00Z"),
				Notifications: []incident.Notification{
					{ID: "8c1d2e3f-0000-5000-8000-000000000001", Role: "NCC", Recipient: "ncc", Kind: "ncc", Channel: "nats",
						SentAt: at("2026-03-14T05:31:00Z"), AcknowledgedAt: at("2026-03-14T05:40:00Z")},
					{ID: "8c1d2e3f-0000-5000-8000-000000000002", Role: "OWNER", Recipient: "zhana-grid", Kind: "org", Channel: "webhook",
						SentAt: at("2026-03-14T05:31:00Z")},
				}},
			{Regime: "kz_pd_breach", Stage: "initial", Anchor: "detected_at", DueAt: at("2026-03-16T05:00:00Z"),
				Status: incident.StagePending, Flags: []string{incident.FlagCalendarYearMissing}},
		},
	}
}

// reportTime is the time the seeded reports are made at.
var reportTime = time.Date(2026, 3, 15, 9, 30, 0, 0, time.UTC)

func seededRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	reg, err := registry.LoadFile("testdata/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
