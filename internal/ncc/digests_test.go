package ncc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

func almaty(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, report.Zone)
}

// TestDueDigests: before the day's time the day before yesterday is the
// latest daily digest due; from it, yesterday's; the monthly digest due is
// the previous month's, from the 1st at that time. Every scope, both kinds.
func TestDueDigests(t *testing.T) {
	at := 10 * time.Minute
	for _, c := range []struct {
		now          time.Time
		day, month   time.Time
		next         time.Time
		nextFromThen time.Time
	}{
		{almaty(2026, 11, 21, 0, 9), almaty(2026, 11, 19, 0, 0), almaty(2026, 10, 1, 0, 0), almaty(2026, 11, 21, 0, 10), almaty(2026, 11, 22, 0, 10)},
		{almaty(2026, 11, 21, 0, 10), almaty(2026, 11, 20, 0, 0), almaty(2026, 10, 1, 0, 0), almaty(2026, 11, 22, 0, 10), almaty(2026, 11, 23, 0, 10)},
		{almaty(2026, 12, 1, 0, 5), almaty(2026, 11, 29, 0, 0), almaty(2026, 10, 1, 0, 0), almaty(2026, 12, 1, 0, 10), almaty(2026, 12, 2, 0, 10)},
		{almaty(2026, 12, 1, 0, 10), almaty(2026, 11, 30, 0, 0), almaty(2026, 11, 1, 0, 0), almaty(2026, 12, 2, 0, 10), almaty(2026, 12, 3, 0, 10)},
		{almaty(2027, 1, 1, 23, 59), almaty(2026, 12, 31, 0, 0), almaty(2026, 12, 1, 0, 0), almaty(2027, 1, 2, 0, 10), almaty(2027, 1, 3, 0, 10)},
		// 19:10 UTC is 00:10 the next day in Almaty.
		{time.Date(2026, 11, 20, 19, 10, 0, 0, time.UTC), almaty(2026, 11, 20, 0, 0), almaty(2026, 10, 1, 0, 0), almaty(2026, 11, 22, 0, 10), almaty(2026, 11, 23, 0, 10)},
	} {
		specs := dueDigests(c.now, at)
		if len(specs) != 26 {
			t.Fatalf("%v: %d specs, want 2 kinds x 13 scopes", c.now, len(specs))
		}
		for _, s := range specs {
			want := c.day
			if s.Kind == report.Monthly {
				want = c.month
			}
			if !s.Start.Equal(want) || s.Validate() != nil {
				t.Errorf("at %v: %s %s starts %v, want %v (%v)", c.now, s.Kind, s.Scope, s.Start, want, s.Validate())
			}
		}
		if next := nextDigestRun(c.now, at); !next.Equal(c.next) {
			t.Errorf("after %v the next run is %v, want %v", c.now, next, c.next)
		}
		if next := nextDigestRun(c.next, at); !next.Equal(c.nextFromThen) {
			t.Errorf("after %v the next run is %v, want %v", c.next, next, c.nextFromThen)
		}
	}
}

// memDigests is an in-memory digest store: what was inserted (the newest
// generation per id) and how often each was.
type memDigests struct {
	mu       sync.Mutex
	kept     map[string]report.DigestFile
	inserts  int
	checks   int
	failures int // DigestIDs fails while positive
}

func (m *memDigests) DigestIDs(_ context.Context, ids []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks++
	if m.failures > 0 {
		m.failures--
		return nil, errors.New("clickhouse down")
	}
	out := map[string]bool{}
	for _, id := range ids {
		if _, ok := m.kept[id]; ok {
			out[id] = true
		}
	}
	return out, nil
}

func (m *memDigests) DigestFigures(context.Context, report.DigestSpec, time.Time) (report.DigestFigures, error) {
	return report.DigestFigures{}, nil
}

func (m *memDigests) InsertDigests(_ context.Context, fs []report.DigestFile, _ string) ([]store.DigestEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range fs {
		if old, ok := m.kept[f.ID]; !ok || !f.GeneratedAt.Before(old.GeneratedAt) {
			m.kept[f.ID] = f
		}
		m.inserts++
	}
	return nil, nil
}

func (m *memDigests) counts() (kept, inserts int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.kept), m.inserts
}

// fakeRender names the files only: rendering is report's, tested there.
func fakeRender(s report.DigestSpec, _ report.DigestFigures, langs []report.Lang, now time.Time) ([]report.DigestFile, error) {
	var out []report.DigestFile
	for _, l := range langs {
		out = append(out, report.DigestFile{ID: s.ID(l), Spec: s, Lang: l, GeneratedAt: now})
	}
	return out, nil
}

// TestDigestSchedule runs two schedules (two ncc instances) on one store
// under synctest's clock: at start both generate what is due (39 daily +
// 39 monthly digests, kept once each), retrying while the store fails;
// nothing more until the next 00:10 in Almaty, then the day's 39; on the
// 1st, the month's 39 too.
func TestDigestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memDigests{kept: map[string]report.DigestFile{}, failures: 3}
		reg := prometheus.NewPedanticRegistry()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var schedules []*digestSchedule
		for i, by := range []string{"ncc-1", "ncc-2"} {
			r := prometheus.Registerer(reg)
			if i > 0 {
				r = prometheus.NewPedanticRegistry()
			}
			d := newDigestSchedule(st, by, 10*time.Minute, time.Minute, time.Now, telemetry.OrDiscard(nil), r)
			d.render = fakeRender
			schedules = append(schedules, d)
			wg.Go(func() { d.run(ctx) })
		}
		// An instance not ready checks nothing.
		idle := &memDigests{kept: map[string]report.DigestFile{}}
		notReady := newDigestSchedule(idle, "ncc-3", 10*time.Minute, time.Minute, time.Now, telemetry.OrDiscard(nil), prometheus.NewPedanticRegistry())
		notReady.render, notReady.ready = fakeRender, func() bool { return false }
		idleCtx, idleCancel := context.WithCancel(ctx)
		wg.Go(func() { notReady.run(idleCtx) })
		start := time.Now()
		// Three failures: retried after 1s (and 2s).
		time.Sleep(5 * time.Second)
		synctest.Wait()
		kept, _ := st.counts()
		if kept != 78 {
			t.Fatalf("at start %d digests kept, want 78", kept)
		}
		idleCancel()
		for _, s := range st.kept {
			if want := dueDigests(start, 10*time.Minute); s.Spec.Start != want[0].Start && s.Spec.Start != want[len(want)-1].Start {
				t.Errorf("generated %s %s %v, not due at %v", s.Spec.Kind, s.Spec.Scope, s.Spec.Start, start)
			}
		}
		// Just before the next run: nothing new.
		next := nextDigestRun(time.Now(), 10*time.Minute)
		time.Sleep(time.Until(next) - time.Second)
		synctest.Wait()
		if k, _ := st.counts(); k != 78 {
			t.Errorf("before the day's time %d kept, want 78", k)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		wantKept := 78 + 39
		if next.In(report.Zone).Day() == 1 {
			wantKept += 39
		}
		if k, _ := st.counts(); k != wantKept {
			t.Errorf("after the day's time %d kept, want %d", k, wantKept)
		}
		// On to the next month's 1st at 00:10.
		l := time.Now().In(report.Zone)
		first := time.Date(l.Year(), l.Month()+1, 1, 0, 10, 1, 0, report.Zone)
		days := int(first.Sub(report.PeriodStart(report.Daily, time.Now())).Hours()/24 + 0.5)
		time.Sleep(time.Until(first))
		synctest.Wait()
		kept, inserts := st.counts()
		if want := wantKept + 39*days + 39; kept != want {
			t.Errorf("on the 1st %d kept, want %d", kept, want)
		}
		generated := 0.0
		for _, d := range schedules {
			generated += testutil.ToFloat64(d.generated.WithLabelValues("daily")) + testutil.ToFloat64(d.generated.WithLabelValues("monthly"))
		}
		if int(generated) != inserts {
			t.Errorf("counted %v generated, %d inserted", generated, inserts)
		}
		if inserts < kept {
			t.Errorf("%d inserts for %d kept", inserts, kept)
		}
		if idle.checks != 0 { // it never calls the store, so no lock is needed
			t.Errorf("an instance not ready checked %d times", idle.checks)
		}
		cancel()
		wg.Wait()
	})
}

// TestDigestScheduleClickHouse: one schedule run over real ClickHouse
// stores every due digest (13 scopes x 2 kinds x 3 languages); a second
// instance's run finds them all and generates none.
func TestDigestScheduleClickHouse(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	now := almaty(2026, 12, 1, 0, 15)
	at := almaty(2026, 11, 30, 9, 0).UTC()
	var rows []store.StoredIncident
	for _, org := range []string{"b1", "b2", "b3"} {
		rows = append(rows, store.StoredIncident{Incident: incident.Incident{ID: uuid.NewString(), Version: 1, Title: "secret", Org: org,
			Orgs: []string{org}, Sectors: []string{"banking"}, Severity: incident.SeverityHigh, TLP: incident.TLPAmber,
			RSITClass: "intrusion-attempts", RSITType: "brute-force", DetectedAt: at}, UpdatedAt: at})
	}
	if err := st.InsertIncidents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	a := newDigestSchedule(st, "ncc-1", 10*time.Minute, time.Minute, clock, telemetry.OrDiscard(nil), prometheus.NewPedanticRegistry())
	n, err := a.runOnce(ctx)
	if err != nil || n != 78 {
		t.Fatalf("first run: %d digests, %v; want 78", n, err)
	}
	b := newDigestSchedule(st, "ncc-2", 10*time.Minute, time.Minute, clock, telemetry.OrDiscard(nil), prometheus.NewPedanticRegistry())
	if n, err := b.runOnce(ctx); err != nil || n != 0 {
		t.Errorf("second instance: %d digests, %v; want 0", n, err)
	}
	list, err := st.ListDigests(ctx, store.DigestQuery{Scope: "sector:banking"})
	if err != nil || len(list) != 6 {
		t.Fatalf("banking digests: %d, %v", len(list), err)
	}
	for _, e := range list {
		if e.GeneratedBy != "ncc-1" || e.TLP != "GREEN" {
			t.Errorf("entry %+v", e)
		}
	}
	_, html, err := st.Digest(ctx, report.DigestSpec{Kind: report.Monthly, Scope: "sector:banking", Start: almaty(2026, 11, 1, 0, 0)}.ID(report.English), "html", nil)
	if err != nil || !strings.Contains(string(html), "<td>3</td><td>3</td>") || strings.Contains(string(html), "secret") {
		t.Errorf("November's banking digest (%v): %s", err, html)
	}
}
