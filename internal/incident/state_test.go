package incident_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// promCounts is how a role wires the package's counters to Prometheus
// (the package itself imports no metrics library).
func promCounts(reg prometheus.Registerer) (incident.CountFunc, map[string]*prometheus.CounterVec) {
	vecs := map[string]*prometheus.CounterVec{}
	for _, m := range incident.Metrics {
		vecs[m.Name] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.Name, Help: m.Help}, []string{m.Label})
		reg.MustRegister(vecs[m.Name])
	}
	return func(m incident.Metric, v string) { vecs[m.Name].WithLabelValues(v).Inc() }, vecs
}

func TestBadAlertsAreRejectedAndCountedByReason(t *testing.T) {
	count, vecs := promCounts(prometheus.NewPedanticRegistry())
	g, err := incident.NewGrouper(incident.GrouperOptions{Count: count, Partitions: 2, Partition: 1,
		Routes: []incident.Route{{Name: "only-r1", Matchers: []incident.Matcher{{Name: "rule_id", Op: "=", Value: "R1"}},
			GroupBy: []string{"rule"}, GroupWait: time.Second, GroupInterval: time.Minute, RepeatInterval: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	good := incident.Alert{ID: "a1", Org: "o1", RuleID: "R1", Level: "high", DetectedAt: t0} // o1 is in partition 1 of 2
	for _, tc := range []struct {
		edit   func(*incident.Alert)
		reason string
	}{
		{func(a *incident.Alert) { a.ID = "" }, "missing_id"},
		{func(a *incident.Alert) { a.Org = "" }, "missing_org"},
		{func(a *incident.Alert) { a.RuleID = "" }, "missing_rule"},
		{func(a *incident.Alert) { a.DetectedAt = time.Time{} }, "missing_time"},
		{func(a *incident.Alert) { a.Level = "severe" }, "bad_level"},
		{func(a *incident.Alert) { a.ObjectClass = 4 }, "bad_object_class"},
		{func(a *incident.Alert) { a.Org = "kegoc" }, "wrong_partition"}, // partition 0
		{func(a *incident.Alert) { a.RuleID = "R2" }, "no_route"},
	} {
		a := good
		tc.edit(&a)
		_, err := g.Add(a, t0)
		var ie *incident.InputError
		if !errors.As(err, &ie) || ie.Reason != tc.reason {
			t.Errorf("want reason %s, got %v", tc.reason, err)
			continue
		}
		if got := testutil.ToFloat64(vecs["kuzet_incident_alerts_rejected_total"].WithLabelValues(tc.reason)); got != 1 {
			t.Errorf("rejected{reason=%s} = %v", tc.reason, got)
		}
	}
	if res, err := g.Add(good, t0); err != nil || !res.Opened {
		t.Fatalf("good alert: %+v %v", res, err)
	}
	if got := testutil.ToFloat64(vecs["kuzet_incident_alerts_total"].WithLabelValues("rejected")); got != 8 {
		t.Errorf("alerts{result=rejected} = %v", got)
	}
	if g.Stats().Incidents != 1 {
		t.Errorf("rejected alerts left state: %+v", g.Stats())
	}
}

func TestBadOptionsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		opts incident.GrouperOptions
		want string
	}{
		{incident.GrouperOptions{Routes: []incident.Route{{Name: "r", GroupInterval: time.Minute, RepeatInterval: time.Hour}}}, "routes[0].group_by: empty"},
		{incident.GrouperOptions{Routes: []incident.Route{{Name: "r", GroupBy: []string{"rule"}, RepeatInterval: time.Hour}}}, "routes[0].group_interval: must be positive"},
		{incident.GrouperOptions{Routes: []incident.Route{{Name: "r", GroupBy: []string{"rule"}, GroupInterval: time.Hour, RepeatInterval: time.Minute}}}, "routes[0].repeat_interval"},
		{incident.GrouperOptions{Routes: []incident.Route{incident.DefaultRoute(), incident.DefaultRoute()}}, `routes[1].name: "default" twice`},
		{incident.GrouperOptions{Link: incident.LinkOptions{MaxCardinality: 1}}, "link.max_cardinality"},
		{incident.GrouperOptions{Partitions: 2, Partition: 2}, "partition: 2 not in 0..1"},
	} {
		if _, err := incident.NewGrouper(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if _, err := incident.NewNational(incident.NationalOptions{MinOrgs: 5, Link: incident.LinkOptions{MaxCardinality: 4}}); err == nil ||
		!strings.Contains(err.Error(), "national.link.max_cardinality: 4 is below min_orgs 5") {
		t.Errorf("national: %v", err)
	}
}

// stream is a deterministic mix of alerts over orgs, objects, rules and
// attacker addresses, with the step's processing time.
type step struct {
	a     incident.Alert
	now   time.Time
	close bool // close the incident of the previous alert instead
}

func stream(n int, seed uint64) []step {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []step
	now := t0
	for i := range n {
		now = now.Add(time.Duration(r.IntN(400)) * time.Millisecond)
		if i > 0 && r.IntN(50) == 0 {
			out = append(out, step{now: now, close: true})
			continue
		}
		org := fmt.Sprintf("org%d", r.IntN(6))
		a := incident.Alert{ID: fmt.Sprintf("a%05d", i), Org: org, RuleID: fmt.Sprintf("R%d", r.IntN(5)),
			Level: []string{"low", "medium", "high", "critical"}[r.IntN(4)], Object: fmt.Sprintf("%s-obj%d", org, r.IntN(4)),
			Sector: []string{"electricity", "banking", "transport"}[r.IntN(3)], OISC: "oisc1", ObjectClass: 1 + r.IntN(3),
			EventTime: now.Add(-time.Second), DetectedAt: now,
			Entities: map[string]string{"source.ip": fmt.Sprintf("198.51.100.%d", r.IntN(40)), "user.name": fmt.Sprintf("u%d", r.IntN(30))}}
		out = append(out, step{a: a, now: now})
	}
	return out
}

func streamOptions() incident.GrouperOptions {
	return incident.GrouperOptions{Routes: []incident.Route{{Name: "r", GroupBy: []string{"rule", "object"},
		GroupWait: 2 * time.Second, GroupInterval: 10 * time.Second, RepeatInterval: 5 * time.Minute}},
		Link: incident.LinkOptions{Fields: []string{"source.ip"}, MaxCardinality: 6}}
}

// run feeds steps[from:to] to g, ticking every 500ms of processing time,
// and returns the updates as JSON lines.
func run(t testing.TB, g *incident.Grouper, steps []step, from, to int, last *string) []string {
	var out []string
	record := func(us []incident.Update) {
		for _, u := range us {
			b, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	for _, s := range steps[from:to] {
		if s.close {
			if *last != "" {
				record(g.Closed(*last, s.now))
			}
			continue
		}
		res, err := g.Add(s.a, s.now)
		if err != nil {
			t.Fatal(err)
		}
		*last = res.Incident
		record(g.Tick(s.now))
	}
	return out
}

// TestReplayAndRestoreAreExact: the same alerts in the same order give the
// same updates and the same snapshot bytes; a grouper restored from a
// snapshot taken midway continues exactly as the one that ran through;
// and every alert is reported in exactly one update.
func TestReplayAndRestoreAreExact(t *testing.T) {
	steps := stream(3000, 7)
	newG := func() *incident.Grouper {
		g, err := incident.NewGrouper(streamOptions())
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	end := steps[len(steps)-1].now.Add(time.Hour)
	var l1, l2, l3 string
	g1, g2 := newG(), newG()
	a := append(run(t, g1, steps, 0, len(steps), &l1), jsonLines(t, g1.Tick(end))...)
	b := append(run(t, g2, steps, 0, len(steps), &l2), jsonLines(t, g2.Tick(end))...)
	s1, _ := g1.Snapshot()
	s2, _ := g2.Snapshot()
	if strings.Join(a, "\n") != strings.Join(b, "\n") || !bytes.Equal(s1, s2) {
		t.Fatal("two runs of the same stream differ")
	}
	mid := len(steps) / 2
	g3 := newG()
	c := run(t, g3, steps, 0, mid, &l3)
	snap, err := g3.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g4 := newG()
	if err := g4.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if again, _ := g4.Snapshot(); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of a restored grouper differs")
	}
	if g4.Stats() != g3.Stats() {
		t.Fatalf("restored stats %+v, original %+v", g4.Stats(), g3.Stats())
	}
	c = append(c, run(t, g4, steps, mid, len(steps), &l3)...)
	c = append(c, jsonLines(t, g4.Tick(end))...)
	if strings.Join(a, "\n") != strings.Join(c, "\n") {
		for i := range min(len(a), len(c)) {
			if a[i] != c[i] {
				t.Fatalf("restored run differs at update %d:\n%s\n%s", i, a[i], c[i])
			}
		}
		t.Fatalf("restored run has %d updates, straight run %d", len(c), len(a))
	}
	seen := map[string]int{}
	kinds := map[incident.UpdateKind]int{}
	for _, line := range a {
		var u incident.Update
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatal(err)
		}
		kinds[u.Kind]++
		for _, id := range u.NewAlerts {
			seen[id]++
		}
	}
	alerts := 0
	for _, s := range steps {
		if !s.close {
			alerts++
			if seen[s.a.ID] != 1 {
				t.Errorf("alert %s in %d updates", s.a.ID, seen[s.a.ID])
			}
		}
	}
	if len(seen) != alerts {
		t.Errorf("%d alerts reported, %d added", len(seen), alerts)
	}
	for _, line := range a {
		var u incident.Update
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatal(err)
		}
		// A merged update is one logged system transition, from the
		// status the analysts left it in.
		c := u.Change()
		if (c != nil) != (u.Kind == incident.UpdateMerged) {
			t.Fatalf("%s update: change %+v", u.Kind, c)
		}
		if c != nil {
			cur := incident.Incident{ID: u.Incident.ID, Status: incident.StatusContained, Version: 3}
			got, e, err := incident.Apply(cur, 3, *c)
			if err != nil || got.DuplicateOf == "" || got.Resolution != incident.ResolutionDuplicate || !e.System {
				t.Fatalf("merge change: %v %+v", err, got)
			}
		}
	}
	for _, k := range []incident.UpdateKind{incident.UpdateOpened, incident.UpdateUpdated, incident.UpdateRepeat, incident.UpdateMerged} {
		if kinds[k] == 0 {
			t.Errorf("the stream produced no %s update: %v", k, kinds)
		}
	}
	t.Logf("%d alerts, updates %v, snapshot %d bytes, stats %+v", alerts, kinds, len(s1), g1.Stats())
}

func jsonLines(t testing.TB, us []incident.Update) []string {
	var out []string
	for _, u := range us {
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestRestoreRejectsAnotherPartition(t *testing.T) {
	g0, _ := incident.NewGrouper(incident.GrouperOptions{Partitions: 2, Partition: 0})
	g1, _ := incident.NewGrouper(incident.GrouperOptions{Partitions: 2, Partition: 1})
	snap, _ := g0.Snapshot()
	if err := g1.Restore(snap); err == nil || !strings.Contains(err.Error(), "partition 0/2 into 1/2") {
		t.Errorf("restore into another partition: %v", err)
	}
	if err := g1.Restore([]byte(`{"version":99}`)); err == nil {
		t.Error("restore of an unknown version succeeded")
	}
}

// TestStateIsBounded: past MaxGroups or MaxBytes the least recently
// active groups go (counted), never an incident with unreported alerts.
func TestStateIsBounded(t *testing.T) {
	var evicted = map[string]int{}
	count := func(m incident.Metric, v string) {
		if m == incident.MetricEvictions {
			evicted[v]++
		}
	}
	for _, tc := range []struct {
		name   string
		opts   incident.GrouperOptions
		reason string
	}{
		{"groups", incident.GrouperOptions{MaxGroups: 100}, "groups"},
		{"bytes", incident.GrouperOptions{MaxBytes: 128 << 10}, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Count = count
			o.Routes = []incident.Route{{Name: "r", GroupBy: []string{"object"}, GroupWait: time.Second, GroupInterval: time.Minute, RepeatInterval: time.Hour}}
			g, err := incident.NewGrouper(o)
			if err != nil {
				t.Fatal(err)
			}
			now := t0
			reported := 0
			for i := range 2000 {
				now = now.Add(100 * time.Millisecond)
				a := incident.Alert{ID: fmt.Sprintf("a%d", i), Org: "o1", RuleID: "R", Level: "low", DetectedAt: now,
					Object: fmt.Sprintf("obj%d", i), Entities: map[string]string{"source.ip": fmt.Sprintf("10.1.%d.%d", i/250, i%250)}}
				if _, err := g.Add(a, now); err != nil {
					t.Fatal(err)
				}
				for _, u := range g.Tick(now) {
					reported += len(u.NewAlerts)
				}
				st := g.Stats()
				// Soft bound: at most the alerts of the last group_wait
				// (10 groups) over it.
				if tc.reason == "groups" && st.Groups > 100+10 || tc.reason == "bytes" && st.Bytes > 128<<10+10*2048 {
					t.Fatalf("after %d alerts: %+v", i, st)
				}
			}
			for _, u := range g.Tick(now.Add(time.Hour)) {
				reported += len(u.NewAlerts)
			}
			if evicted[tc.reason] == 0 {
				t.Errorf("no evictions counted for %s", tc.reason)
			}
			if reported != 2000 {
				t.Errorf("%d of 2000 alerts reported", reported)
			}
			t.Logf("%+v, evictions %v", g.Stats(), evicted)
		})
	}
}

// BenchmarkGrouping: alerts per second through grouping and linking on
// one core (run with -cpu=1), over a table of distinct group counts.
func BenchmarkGrouping(b *testing.B) {
	for _, groups := range []int{100, 10000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			o := streamOptions()
			o.MaxGroups = 2 * groups
			g, err := incident.NewGrouper(o)
			if err != nil {
				b.Fatal(err)
			}
			alerts := make([]incident.Alert, 4096)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range alerts {
				k := r.IntN(groups)
				alerts[i] = incident.Alert{ID: fmt.Sprintf("a%d", i), Org: fmt.Sprintf("org%d", k%7), RuleID: fmt.Sprintf("R%d", k%5),
					Level: "high", Object: fmt.Sprintf("obj%d", k), Sector: "banking", ObjectClass: 2,
					DetectedAt: t0, EventTime: t0, Entities: map[string]string{"source.ip": fmt.Sprintf("198.51.%d.%d", k/250%250, k%250)}}
			}
			now := t0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(time.Millisecond)
				if _, err := g.Add(alerts[i%len(alerts)], now); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 0 {
					g.Tick(now)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// finalIncidents follows the updates of a run: every alert's incident,
// through duplicate_of to the incident it ended in.
func finalIncidents(t *testing.T, lines []string) map[string]string {
	into := map[string]string{}
	of := map[string]string{}
	for _, line := range lines {
		var u incident.Update
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatal(err)
		}
		if u.Incident.DuplicateOf != "" {
			into[u.Incident.ID] = u.Incident.DuplicateOf
		}
		for _, a := range u.NewAlerts {
			of[a] = u.Incident.ID
		}
	}
	for a, id := range of {
		for into[id] != "" {
			id = into[id]
		}
		of[a] = id
	}
	return of
}

// TestReplayWithOtherTimesGivesTheSameIncidents: a replay after a takeover
// sees the same alerts in the same order but at other processing times
// (one batch at one instant, or each alert apart); the incidents and the
// alerts each ends up with are the same.
func TestReplayWithOtherTimesGivesTheSameIncidents(t *testing.T) {
	steps := stream(3000, 11)
	batched := make([]step, len(steps))
	apart := make([]step, len(steps))
	for i, s := range steps {
		batched[i], apart[i] = s, s
		batched[i].now = t0.Add(s.now.Sub(t0).Truncate(5 * time.Second)) // 64 alerts per instant or so
		apart[i].now = t0.Add(time.Duration(i) * time.Millisecond)
	}
	var res [][]string
	for _, ss := range [][]step{steps, batched, apart} {
		g, err := incident.NewGrouper(streamOptions())
		if err != nil {
			t.Fatal(err)
		}
		var last string
		out := run(t, g, ss, 0, len(ss), &last)
		out = append(out, jsonLines(t, g.Tick(ss[len(ss)-1].now.Add(time.Hour)))...)
		res = append(res, out)
	}
	// A takeover: a grouper restored from a checkpoint taken midway
	// replays the rest an hour later, each alert apart.
	{
		mid := len(steps) / 3
		g, _ := incident.NewGrouper(streamOptions())
		var last string
		out := run(t, g, steps, 0, mid, &last)
		snap, err := g.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		h, _ := incident.NewGrouper(streamOptions())
		if err := h.Restore(snap); err != nil {
			t.Fatal(err)
		}
		later := make([]step, len(steps))
		for i, s := range steps {
			later[i] = s
			later[i].now = steps[mid].now.Add(time.Hour + time.Duration(i)*time.Millisecond)
		}
		out = append(out, run(t, h, later, mid, len(later), &last)...)
		out = append(out, jsonLines(t, h.Tick(later[len(later)-1].now.Add(time.Hour)))...)
		res = append(res, out)
	}
	want := finalIncidents(t, res[0])
	for i, name := range []string{"batched", "apart", "restored and replayed later"} {
		got := finalIncidents(t, res[i+1])
		n := 0
		for a, id := range want {
			if got[a] != id {
				n++
			}
		}
		if n > 0 || len(got) != len(want) {
			t.Errorf("%s: %d of %d alerts end in another incident (%d reported)", name, n, len(want), len(got))
		}
	}
}

// TestUnreportedAlertsAreBounded: a storm into one incident is reported
// early once MaxPending alerts wait, instead of holding every id until
// group_interval.
func TestUnreportedAlertsAreBounded(t *testing.T) {
	g, err := incident.NewGrouper(incident.GrouperOptions{MaxPending: 100, Routes: []incident.Route{{Name: "r",
		GroupBy: []string{"rule"}, GroupWait: time.Second, GroupInterval: time.Hour, RepeatInterval: 4 * time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	reported, updates := 0, 0
	for i := range 1050 {
		now = now.Add(time.Millisecond)
		if _, err := g.Add(incident.Alert{ID: fmt.Sprintf("a%d", i), Org: "o1", RuleID: "R", Level: "low", DetectedAt: now}, now); err != nil {
			t.Fatal(err)
		}
		for _, u := range g.Tick(now) {
			updates++
			reported += len(u.NewAlerts)
			if len(u.NewAlerts) > 100 {
				t.Fatalf("update with %d alerts", len(u.NewAlerts))
			}
		}
	}
	if reported != 1000 || updates != 10 {
		t.Errorf("within the first group_interval: %d alerts in %d updates, want 1000 in 10", reported, updates)
	}
}

// TestGroupKeysAreUnambiguous: values holding the key's separators cannot
// make two different label sets one group.
func TestGroupKeysAreUnambiguous(t *testing.T) {
	g, err := incident.NewGrouper(incident.GrouperOptions{Link: incident.LinkOptions{Disabled: true},
		Routes: []incident.Route{{Name: "r", GroupBy: []string{"source.ip", "user.name"}, GroupWait: time.Second,
			GroupInterval: time.Minute, RepeatInterval: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	a := incident.Alert{ID: "a1", Org: "o1", RuleID: "R", Level: "low", DetectedAt: t0,
		Entities: map[string]string{"source.ip": "x,user.name=y"}}
	b := incident.Alert{ID: "a2", Org: "o1", RuleID: "R", Level: "low", DetectedAt: t0,
		Entities: map[string]string{"source.ip": "x", "user.name": "y,user.name="}}
	ra, _ := g.Add(a, t0)
	rb, _ := g.Add(b, t0)
	if ra.Incident == rb.Incident {
		t.Errorf("different labels grouped together: %s", ra.Incident)
	}
}

// TestOverlongEntityValuesDoNotGroupOrLink: a value past 256 bytes (an
// attacker's user name) is neither kept nor linked, and is counted; the
// alert still groups.
func TestOverlongEntityValuesDoNotGroupOrLink(t *testing.T) {
	n := 0
	g, err := incident.NewGrouper(incident.GrouperOptions{Count: func(m incident.Metric, v string) {
		if m == incident.MetricLink && v == "value_too_long" {
			n++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("A", 300)
	for i, obj := range []string{"x", "y"} {
		a := incident.Alert{ID: fmt.Sprintf("a%d", i), Org: "o1", RuleID: "R", Level: "low", DetectedAt: t0, Object: obj,
			Entities: map[string]string{"user.name": long, "source.ip": fmt.Sprintf("192.0.2.%d", i)}}
		if _, err := g.Add(a, t0); err != nil {
			t.Fatal(err)
		}
	}
	us := g.Tick(t0.Add(time.Hour))
	if len(us) != 2 || n != 2 {
		t.Fatalf("%d incidents (want 2, no merge on the long value), %d counted", len(us), n)
	}
	for _, u := range us {
		if len(u.Incident.Entities["user.name"]) != 0 || len(u.Incident.Entities["source.ip"]) != 1 {
			t.Errorf("entities %v", u.Incident.Entities)
		}
	}
}

// BenchmarkTick: one Tick a second over many open incidents, a few due
// each time.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("incidents=%d", n), func(b *testing.B) {
			g, err := incident.NewGrouper(incident.GrouperOptions{MaxGroups: 2 * n, Link: incident.LinkOptions{Disabled: true},
				Routes: []incident.Route{{Name: "r", GroupBy: []string{"object"}, GroupWait: time.Second, GroupInterval: time.Minute, RepeatInterval: time.Hour}}})
			if err != nil {
				b.Fatal(err)
			}
			// Opened over one repeat_interval, so some are due every second.
			for i := range n {
				now := t0.Add(time.Duration(i) * time.Hour / time.Duration(n))
				g.Add(incident.Alert{ID: fmt.Sprintf("a%d", i), Org: "o1", RuleID: "R", Level: "low", DetectedAt: now, Object: fmt.Sprintf("obj%d", i)}, now)
				if i%(n/100) == 0 {
					g.Tick(now)
				}
			}
			now := t0.Add(time.Hour)
			g.Tick(now)
			b.ResetTimer()
			for range b.N {
				now = now.Add(time.Second)
				g.Tick(now)
			}
		})
	}
}

func TestReopenedOfAnotherPartitionIsIgnored(t *testing.T) {
	g, _ := incident.NewGrouper(incident.GrouperOptions{Partitions: 2, Partition: 1})
	g.Reopened(incident.Incident{ID: "x", Org: "kegoc", Route: "default", GroupKeys: []string{"k"}}, t0) // kegoc: partition 0
	g.Reopened(incident.Incident{ID: "n", National: true, Route: "default"}, t0)
	if st := g.Stats(); st.Incidents != 0 {
		t.Errorf("%+v", st)
	}
	g.Reopened(incident.Incident{ID: "y", Org: "o1", Route: "default"}, t0) // o1: partition 1
	if st := g.Stats(); st.Incidents != 1 {
		t.Errorf("own partition's reopened incident not taken: %+v", st)
	}
}
