package dashboards_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/dashboards"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// org is a seeded organisation: its sector and the OISC and collector its
// events come through.
type org struct{ id, sector, oisc, collector string }

var orgs = []org{
	{"bank-1", "banking", "oisc-a", "a-1"},
	{"grid-1", "electricity", "oisc-a", "a-2"},
	{"grid-2", "electricity", "oisc-b", "b-1"},
	{"water-1", "water_supply", "oisc-b", "b-1"},
}

// seed writes six hours of events, alerts (one source address seen by
// three organisations), local incidents with their notification stages
// (sent, late, overdue, pending, waived), a national incident, a TLP:RED
// one, and delivery log entries, all through the store's writers, so the
// rollups fill as in production. Every batch is written twice, as a
// redelivery would.
func seed(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(15, 25))
	var rows []store.EventRow
	for i := range 400 {
		o := orgs[i%len(orgs)]
		at := now.Add(-time.Duration(rnd.IntN(6*3600)) * time.Second)
		ev := &event.Event{Timestamp: at, Message: fmt.Sprint("event ", i)}
		if err := event.Stamp(ev, at, o.collector, o.oisc, "syslog"); err != nil {
			t.Fatal(err)
		}
		ev.Kuzet.Org, ev.Kuzet.Sector, ev.Kuzet.Object, ev.Kuzet.Asset = o.id, o.sector, o.id+"-scada", event.AssetKnown
		ev.Kuzet.SourceType = []string{"syslog", "winevent"}[i%2]
		doc, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		r, err := store.NewEventRow(ev, doc)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	var alerts []alert.Alert
	for i := range 60 {
		o := orgs[i%3] // the water utility has no alerts
		at := now.Add(-time.Duration(rnd.IntN(6*3600)) * time.Second)
		alerts = append(alerts, alert.Alert{ID: uuid.New(), ReceivedAt: at, DetectedAt: at, EventTime: at,
			RuleID: fmt.Sprint("kuzet-rule-", i%4), RuleTitle: fmt.Sprint("Rule ", i%4), Level: []string{"high", "medium"}[i%2],
			Tags: []string{}, Attack: []string{}, EventIDs: []string{rows[i].Ev.Kuzet.EventID}, Collector: o.collector, OISC: o.oisc,
			Org: o.id, Object: o.id + "-scada", Sector: o.sector, Asset: event.AssetKnown,
			SourceIP: "203.0.113.7", UserName: fmt.Sprint("operator", i%2), HostName: o.id + "-hmi"})
	}
	var incs []store.StoredIncident
	stage := func(status incident.StageStatus, due time.Time, sent time.Time) incident.Stage {
		return incident.Stage{Regime: "kz_oisc_to_ncc", Stage: "immediate", DueAt: due, SentAt: sent, Status: status}
	}
	var local []string
	for i := range 24 {
		o := orgs[i%len(orgs)]
		det := now.Add(-time.Duration(1+rnd.IntN(20*60)) * time.Minute)
		due := det.Add(time.Hour)
		st := []incident.Stage{
			stage(incident.StageSent, due, due.Add(-10*time.Minute)),
			stage(incident.StageLate, due, due.Add(30*time.Minute)),
			stage(incident.StagePending, due, time.Time{}),
			stage(incident.StageWaived, due, time.Time{}),
		}[i%4]
		if i%8 == 2 {
			st.DueAt = now.Add(2 * time.Hour) // pending, not yet due
		}
		nis2 := incident.Stage{Regime: "nis2", Stage: "early_warning", DueAt: det.Add(24 * time.Hour), Status: incident.StagePending}
		in := incident.Incident{ID: uuid.NewString(), Version: 1, Title: fmt.Sprint("Local incident ", i), Org: o.id, Orgs: []string{o.id},
			Sectors: []string{o.sector}, CenterID: o.oisc, Origin: incident.OriginOISCDetected,
			Status:        []incident.Status{incident.StatusNew, incident.StatusInProgress, incident.StatusResolved}[i%3],
			Determination: incident.DeterminationSuspected, Severity: []incident.Severity{incident.SeverityHigh, incident.SeverityModerate}[i%2],
			TLP: incident.TLPAmber, RSITClass: []string{"intrusion-attempts", "malicious-code"}[i%2], RSITType: "brute-force",
			DetectedAt: det, AlertCount: 2, Stages: []incident.Stage{st, nis2}}
		if i == 5 {
			in.TLP, in.TLPRecipients = incident.TLPRed, []string{"ncc-analyst"}
		}
		local = append(local, in.ID)
		// A stale version first: only the latest may count.
		old := in
		old.Version, old.Severity = 0, incident.SeverityLow
		incs = append(incs, store.StoredIncident{Incident: old, UpdatedAt: det}, store.StoredIncident{Incident: in, UpdatedAt: det.Add(time.Minute)})
	}
	nat := incident.Incident{ID: uuid.NewString(), Version: 1, Title: "203.0.113.7 across banking and electricity", Org: "",
		Orgs: []string{"bank-1", "grid-1", "grid-2"}, Sectors: []string{"banking", "electricity"}, Origin: incident.OriginNCCDetected,
		Status: incident.StatusNew, Determination: incident.DeterminationSuspected, Severity: incident.SeverityHigh,
		TLP: incident.TLPAmber, National: true, Linked: local[:3], RSITClass: "intrusion-attempts", RSITType: "brute-force",
		DetectedAt: now.Add(-time.Hour)}
	incs = append(incs, store.StoredIncident{Incident: nat, UpdatedAt: now.Add(-time.Hour)})
	var log []store.NotificationLogEntry
	for i, outcome := range []string{store.DeliverySent, store.DeliveryFailed, store.DeliverySent, store.DeliveryAcknowledged, store.DeliveryOverdue} {
		log = append(log, store.NotificationLogEntry{At: now.Add(-time.Duration(i+1) * 17 * time.Minute), NotificationID: fmt.Sprint("n", i),
			IncidentID: local[i], Org: orgs[i%len(orgs)].id, Regime: "kz_oisc_to_ncc", Stage: "immediate", Recipient: "ncc",
			Kind: "notification", Channel: "webhook", Attempt: 1, Outcome: outcome})
	}
	for range 2 { // the second time as a redelivery
		if err := st.InsertEvents(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertAlerts(ctx, alerts); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertIncidents(ctx, incs); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertNotificationLog(ctx, log); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPanelQueries runs every ClickHouse panel and variable query of the
// committed dashboards on the test ClickHouse (18.16 in CI) over seeded
// data; see checkPanels.
func TestPanelQueries(t *testing.T) {
	st := storetest.Open(t)
	now := time.Now().UTC().Truncate(time.Second)
	seed(t, st, now)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{storetest.Addr(t)}, Auth: clickhouse.Auth{Database: st.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The README's backfill, run twice over rows already in the rollups:
	// checkPanels' counts show it idempotent.
	for range 2 {
		for _, q := range backfill {
			if err := conn.Exec(context.Background(), q); err != nil {
				t.Fatalf("%v\n%s", err, q)
			}
		}
	}
	checkPanels(t, conn, now)
}

// backfill fills the rollups from the rows stored before migration 15 (the
// README shows the first): uniqState of the ids, so running it again, or
// over rows the views already counted, changes no count.
var backfill = []string{
	`INSERT INTO events_5m
	SELECT toStartOfFiveMinute(received_at) AS bucket, oisc, collector, sector, org, source_type, uniqState(event_id)
	FROM events GROUP BY bucket, oisc, collector, sector, org, source_type`,
	`INSERT INTO alerts_1h
	SELECT toStartOfHour(received_at) AS bucket, oisc, org, sector, level, rule_id, anyState(rule_title), uniqState(alert_id)
	FROM alerts GROUP BY bucket, oisc, org, sector, level, rule_id`,
	`INSERT INTO alert_entities_1d
	SELECT toDate(received_at) AS day, entity.1 AS field, entity.2 AS value, org, sector, uniqState(alert_id), maxState(received_at)
	FROM alerts
	ARRAY JOIN [('source.ip', source_ip), ('user.name', user_name), ('host.name', host_name)] AS entity
	WHERE value != ''
	GROUP BY day, field, value, org, sector`,
}

// checkPanels runs every ClickHouse panel and variable query of the
// committed dashboards through conn (its default database the kuzet one,
// as the data source's), expanded as Grafana and the plugin would, with
// every variable at All (or its first value) and then at one value, and
// checks that each returns the columns its panel expects (time first, a
// DateTime, for time series) and, at All, rows. It also checks that the
// rollups counted each seeded id once.
func checkPanels(t *testing.T, conn driver.Conn, now time.Time) {
	t.Helper()
	// The plugin sends its query timeout as max_execution_time.
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": 60}))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	env := dashboards.Env{From: now.Add(-24 * time.Hour), To: now.Add(time.Minute), Interval: 5 * time.Minute, Vars: map[string][]string{}}

	// The rollups count each id once, though every batch was written twice.
	for _, c := range []struct {
		sql  string
		want uint64
	}{
		{"SELECT uniqMerge(events) FROM events_5m", 400},
		{"SELECT uniqMerge(alerts) FROM alerts_1h", 60},
		{"SELECT uniqMerge(alerts) FROM alert_entities_1d WHERE field = 'source.ip'", 60},
	} {
		var got uint64
		if err := conn.QueryRow(ctx, c.sql).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s = %d, %v; want %d", c.sql, got, err, c.want)
		}
	}
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}

	defs := map[string]dashboards.Panel{}
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			defs[d.UID+"/"+p.Title] = p
		}
	}
	queries := 0
	for file, b := range loadBoards(t) {
		all := dashboards.Env{From: env.From, To: env.To, Interval: env.Interval, Vars: map[string][]string{}}
		one := dashboards.Env{From: env.From, To: env.To, Interval: env.Interval, Vars: map[string][]string{}}
		for _, v := range b.Templating.List {
			var vals []string
			switch v.Type {
			case "custom":
				for _, o := range v.Options {
					if o.Value != "$__all" {
						vals = append(vals, o.Value)
					}
				}
			case "query":
				res := run(ctx, t, conn, v.Query, all)
				queries++
				for _, r := range res.rows {
					vals = append(vals, fmt.Sprint(r[0]))
				}
			default:
				t.Fatalf("%s: variable %s of type %s", file, v.Name, v.Type)
			}
			if len(vals) == 0 {
				t.Fatalf("%s: variable %s has no values on the seeded data", file, v.Name)
			}
			if v.IncludeAll {
				all.Vars[v.Name] = vals
			} else {
				all.Vars[v.Name] = vals[:1]
			}
			one.Vars[v.Name] = vals[len(vals)-1:]
		}
		for _, p := range b.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL == "" {
					continue
				}
				def, ok := defs[b.UID+"/"+p.Title]
				if !ok || def.SQL == nil {
					t.Errorf("%s: panel %q has no definition", file, p.Title)
					continue
				}
				if wantFmt := map[bool]int{true: 0, false: 1}[def.TimeSeries()]; tg.Format == nil || *tg.Format != wantFmt {
					t.Errorf("%s: panel %q: format %v, want %d", file, p.Title, tg.Format, wantFmt)
				}
				for i, e := range []dashboards.Env{all, one} {
					res := run(ctx, t, conn, tg.RawSQL, e)
					queries++
					if res.err != nil {
						t.Errorf("%s: panel %q: %v", file, p.Title, res.err)
						break
					}
					if !slices.Equal(res.cols, def.SQL.Columns) {
						t.Errorf("%s: panel %q returns %v; the panel expects %v", file, p.Title, res.cols, def.SQL.Columns)
					}
					if def.TimeSeries() && (len(res.types) == 0 || !strings.HasPrefix(res.types[0], "DateTime") || strings.HasPrefix(res.types[0], "DateTime64")) {
						t.Errorf("%s: time series panel %q: first column of type %v, want DateTime", file, p.Title, res.types)
					}
					if i == 0 && testing.Verbose() {
						t.Logf("%s: %v %v", p.Title, res.cols, res.rows[:min(3, len(res.rows))])
					}
					if i == 0 && len(res.rows) == 0 {
						t.Errorf("%s: panel %q returns no rows on the seeded data:\n%s", file, p.Title, res.sql)
					}
				}
			}
		}
	}
	t.Logf("%d queries run on ClickHouse %s", queries, version)
}

type result struct {
	sql   string
	cols  []string
	types []string
	rows  [][]any
	err   error
}

func run(ctx context.Context, t *testing.T, conn driver.Conn, raw string, env dashboards.Env) result {
	t.Helper()
	sql, err := dashboards.Expand(raw, env)
	if err != nil {
		return result{sql: raw, err: err}
	}
	res := result{sql: sql}
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		res.err = fmt.Errorf("%w\n%s", err, sql)
		return res
	}
	defer rows.Close()
	res.cols = rows.Columns()
	for _, ct := range rows.ColumnTypes() {
		res.types = append(res.types, ct.DatabaseTypeName())
	}
	for rows.Next() {
		dest := make([]any, len(res.cols))
		for i, ct := range rows.ColumnTypes() {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			res.err = fmt.Errorf("scan: %w\n%s", err, sql)
			return res
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		res.rows = append(res.rows, row)
	}
	if err := rows.Err(); err != nil {
		res.err = fmt.Errorf("%w\n%s", err, sql)
	}
	return res
}
