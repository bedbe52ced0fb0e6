package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestStatisticsMatchGo seeds incidents of five organisations in two
// sectors (and a national one, a RED one and stale versions, which never
// count) and checks every statistic the SQL computes against the same
// figures computed in Go from the same incidents, k-anonymity included.
func TestStatisticsMatchGo(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(7, 21))
	orgs := map[string]string{"b1": "banking", "b2": "banking", "b3": "banking", "e1": "electricity", "e2": "electricity"}
	names := []string{"b1", "b2", "b3", "e1", "e2"}
	classes := [][2]string{{"intrusion-attempts", "brute-force"}, {"information-gathering", "scanner"}, {"malicious-code", "infected-system"}}
	sevs := []incident.Severity{incident.SeverityLow, incident.SeverityHigh}
	base := time.Date(2026, 11, 20, 20, 0, 0, 0, time.UTC) // 01:00 in Almaty the next day
	var all []incident.Incident
	var rows []store.StoredIncident
	for i := range 120 {
		org := names[rnd.IntN(len(names))]
		c := classes[rnd.IntN(len(classes))]
		det := base.Add(time.Duration(rnd.IntN(72*60)) * time.Minute)
		in := incident.Incident{ID: uuid.NewString(), Version: 2, Title: fmt.Sprint("i", i), Org: org, Orgs: []string{org},
			Sectors: []string{orgs[org]}, CenterID: "oisc-a", Origin: incident.OriginOISCDetected, Status: incident.StatusNew,
			Determination: incident.DeterminationSuspected, Severity: sevs[rnd.IntN(2)], TLP: incident.TLPAmber,
			RSITClass: c[0], RSITType: c[1], DetectedAt: det}
		if rnd.IntN(3) > 0 {
			in.AcknowledgedAt = det.Add(time.Duration(1+rnd.IntN(7200)) * time.Second)
		}
		if rnd.IntN(2) == 0 {
			in.ContainedAt = det.Add(time.Duration(600+rnd.IntN(72000)) * time.Second)
			in.ResolvedAt = in.ContainedAt.Add(time.Duration(rnd.IntN(36000)) * time.Second)
		}
		due := det.Add(time.Hour)
		stage := incident.Stage{Regime: "kz_oisc_to_ncc", Stage: "immediate", DueAt: due, Status: incident.StagePending}
		switch rnd.IntN(4) {
		case 0:
			stage.Status, stage.SentAt = incident.StageSent, due.Add(-time.Minute)
		case 1:
			stage.Status, stage.SentAt = incident.StageLate, due.Add(time.Minute)
		case 2:
			stage.Status = incident.StageWaived
		}
		in.Stages = []incident.Stage{stage}
		all = append(all, in)
		old := in
		old.Version, old.Severity, old.RSITClass = 1, incident.SeverityCritical, "stale" // an older version: never counted
		rows = append(rows, store.StoredIncident{Incident: old, UpdatedAt: det}, store.StoredIncident{Incident: in, UpdatedAt: det})
	}
	for _, x := range []incident.Incident{
		{ID: uuid.NewString(), Version: 1, National: true, Orgs: []string{"b1", "e1"}, Sectors: []string{"banking", "electricity"},
			Severity: incident.SeverityHigh, RSITClass: "intrusion-attempts", RSITType: "brute-force", DetectedAt: base, TLP: incident.TLPAmber},
		{ID: uuid.NewString(), Version: 1, Org: "b1", Orgs: []string{"b1"}, Sectors: []string{"banking"}, Severity: incident.SeverityHigh,
			RSITClass: "intrusion-attempts", RSITType: "brute-force", DetectedAt: base, TLP: incident.TLPRed, TLPRecipients: []string{"x"}},
	} {
		rows = append(rows, store.StoredIncident{Incident: x, UpdatedAt: base})
	}
	if err := st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	from, to := base.Add(-time.Hour), base.Add(96*time.Hour)
	almaty, _ := time.LoadLocation("Asia/Almaty")

	type key struct{ period, cat, typ, sev, sector string }
	keyOf := func(in incident.Incident, by []string, interval string) key {
		var k key
		switch interval {
		case "day":
			k.period = in.DetectedAt.In(almaty).Format("2006-01-02")
		}
		if slices.Contains(by, "category") {
			k.cat = in.RSITClass
		}
		if slices.Contains(by, "type") {
			k.typ = in.RSITType
		}
		if slices.Contains(by, "severity") {
			k.sev = string(in.Severity)
		}
		if slices.Contains(by, "sector") {
			k.sector = in.Sectors[0]
		}
		return k
	}
	median := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	summarise := func(v []float64) *store.Durations {
		if len(v) == 0 {
			return nil
		}
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return &store.Durations{N: len(v), Mean: sum / float64(len(v)), Median: median(v)}
	}
	expect := func(by []string, interval string, sectors []string, k int, times bool) []store.StatsRow {
		groups := map[key][]incident.Incident{}
		for _, in := range all {
			if len(sectors) > 0 && !slices.Contains(sectors, in.Sectors[0]) {
				continue
			}
			groups[keyOf(in, by, interval)] = append(groups[keyOf(in, by, interval)], in)
		}
		var out []store.StatsRow
		for kk, ins := range groups {
			set := map[string]bool{}
			var ack, con, res []float64
			for _, in := range ins {
				set[in.Org] = true
				for _, p := range []struct {
					at  time.Time
					dst *[]float64
				}{{in.AcknowledgedAt, &ack}, {in.ContainedAt, &con}, {in.ResolvedAt, &res}} {
					if !p.at.IsZero() {
						*p.dst = append(*p.dst, float64(p.at.Unix()-in.DetectedAt.Unix()))
					}
				}
			}
			r := store.StatsRow{Period: kk.period, Category: kk.cat, Type: kk.typ, Severity: kk.sev, Sector: kk.sector}
			if len(set) < k {
				r.Withheld = true
			} else {
				r.Incidents, r.Organisations = len(ins), len(set)
				if times {
					r.Acknowledged, r.Contained, r.Resolved = summarise(ack), summarise(con), summarise(res)
				}
			}
			out = append(out, r)
		}
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i], out[j]
			return fmt.Sprint(a.Period, "|", a.Category, "|", a.Type, "|", a.Severity, "|", a.Sector) <
				fmt.Sprint(b.Period, "|", b.Category, "|", b.Type, "|", b.Severity, "|", b.Sector)
		})
		return out
	}
	for _, c := range []struct {
		by       []string
		interval string
		sectors  []string
	}{
		{[]string{"category", "severity"}, "", nil},
		{[]string{"sector"}, "day", nil},
		{[]string{"category", "type", "sector"}, "", []string{"electricity"}}, // two organisations: every row withheld
		{nil, "day", []string{"banking"}},
	} {
		q := store.StatsQuery{From: from, To: to, By: c.by, Interval: c.interval, Scope: access.EventScope{Sectors: c.sectors}, K: 3}
		got, err := st.IncidentStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := expect(c.by, c.interval, c.sectors, 3, false); !reflect.DeepEqual(got, want) {
			t.Errorf("incident stats by %v per %q in %v:\n got  %+v\n want %+v", c.by, c.interval, c.sectors, got, want)
		}
		rt, err := st.ResponseTimes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := expect(c.by, c.interval, c.sectors, 3, true)
		if len(rt) != len(want) {
			t.Fatalf("response times: %d rows, want %d", len(rt), len(want))
		}
		for i := range rt {
			if !reflect.DeepEqual(rt[i].Acknowledged, want[i].Acknowledged) || !reflect.DeepEqual(rt[i].Contained, want[i].Contained) ||
				!reflect.DeepEqual(rt[i].Resolved, want[i].Resolved) || rt[i].Withheld != want[i].Withheld {
				t.Errorf("response times row %d:\n got  %+v %+v %+v\n want %+v %+v %+v", i, rt[i].Acknowledged, rt[i].Contained, rt[i].Resolved,
					want[i].Acknowledged, want[i].Contained, want[i].Resolved)
			}
		}
	}
	// Timeliness at a "now" after every due time.
	now := to
	tl, err := st.Timeliness(ctx, store.StatsQuery{From: from, To: to, K: 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	var w store.StatsRow
	set := map[string]bool{}
	for _, in := range all {
		set[in.Org] = true
		switch in.Stages[0].Status {
		case incident.StageSent:
			w.OnTime++
		case incident.StageLate:
			w.Late++
		case incident.StageWaived:
			w.Waived++
		case incident.StagePending:
			w.Overdue++
		}
	}
	w.Regime, w.Stage, w.Organisations = "kz_oisc_to_ncc", "immediate", len(set)
	if len(tl) != 1 || !reflect.DeepEqual(tl[0], w) {
		t.Errorf("timeliness: %+v, want %+v", tl, w)
	}
}
