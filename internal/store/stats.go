package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
)

// statsMigration adds what the statistics read without the documents:
// an incident's acknowledged, contained and resolved times (the epoch for
// unknown), and its notification stages, a row each.
var statsMigration = migration{13, "incident statistics columns and stages", []string{
	`CREATE TABLE IF NOT EXISTS {db}.incident_stages (
			incident_id UUID,
			version UInt64,
			org String,
			sectors Array(String),
			oisc String,
			national UInt8,
			tlp String,
			regime String,
			stage String,
			due_at DateTime,
			sent_at DateTime,
			status String
		) ENGINE = ReplacingMergeTree(version)
		ORDER BY (incident_id, regime, stage)`,
}, []column{
	{"incidents", "acknowledged_at", "DateTime DEFAULT toDateTime(0)"},
	{"incidents", "contained_at", "DateTime DEFAULT toDateTime(0)"},
	{"incidents", "resolved_at", "DateTime DEFAULT toDateTime(0)"},
}, nil}

func init() { migrations = append(migrations, statsMigration) }

func (s *Store) insertStages(ctx context.Context, ins []StoredIncident) error {
	var rows [][]any
	for _, in := range ins {
		id, err := uuid.Parse(in.ID)
		if err != nil {
			return err
		}
		national := uint8(0)
		if in.National {
			national = 1
		}
		for _, st := range in.Stages {
			rows = append(rows, []any{id, in.Version, in.Org, nonNil(in.Sectors), in.CenterID, national, string(in.TLP),
				st.Regime, st.Stage, instant(st.DueAt), instant(st.SentAt), string(st.Status)})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return s.insert(ctx, "incident_stages", "incident_id, version, org, sectors, oisc, national, tlp, regime, stage, due_at, sent_at, status", rows...)
}

// Statistics dimensions and intervals.
var (
	StatsDimensions = []string{"category", "type", "severity", "sector"}
	StatsIntervals  = []string{"", "day", "week", "month"}
)

// StatsQuery selects the incidents of an aggregate: detected in [From,
// To), local (a national incident aggregates local ones counted already),
// never TLP:RED, in the scope; By names the dimensions and Interval the
// period (in Asia/Almaty). K is the fewest organisations a row may
// aggregate; smaller rows are withheld.
type StatsQuery struct {
	From, To time.Time
	By       []string
	Interval string
	Sectors  []string
	Scope    access.EventScope
	K        int
}

// StatsRow is one aggregate. A withheld row (fewer than K organisations)
// keeps its dimensions and loses its figures.
type StatsRow struct {
	Period        string `json:"period,omitempty"`
	Category      string `json:"category,omitempty"`
	Type          string `json:"type,omitempty"`
	Severity      string `json:"severity,omitempty"`
	Sector        string `json:"sector,omitempty"`
	Regime        string `json:"regime,omitempty"`
	Stage         string `json:"stage,omitempty"`
	Withheld      bool   `json:"withheld,omitempty"`
	Incidents     int    `json:"incidents,omitempty"`
	Organisations int    `json:"organisations,omitempty"`
	// Response times, seconds (incidents with both instants).
	Acknowledged *Durations `json:"time_to_acknowledge,omitempty"`
	Contained    *Durations `json:"time_to_contain,omitempty"`
	Resolved     *Durations `json:"time_to_resolve,omitempty"`
	// Timeliness of stages.
	OnTime     int `json:"on_time,omitempty"`
	Late       int `json:"late,omitempty"`
	Overdue    int `json:"overdue,omitempty"`
	Pending    int `json:"pending,omitempty"`
	Waived     int `json:"waived,omitempty"`
	Superseded int `json:"superseded,omitempty"`
}

// Durations summarises durations in seconds: how many, their mean, and the
// median as quantileExact(0.5) takes it (the element at n/2 of the sorted
// values).
type Durations struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean_seconds"`
	Median float64 `json:"median_seconds"`
}

var dimColumns = map[string]string{"category": "rsit_class", "type": "rsit_type", "severity": "severity", "sector": "sector"}

const almaty = "'Asia/Almaty'"

func periodExpr(interval string) string {
	switch interval {
	case "day":
		return "toString(toDate(detected_at, " + almaty + "))"
	case "week":
		return "toString(toMonday(detected_at, " + almaty + "))"
	case "month":
		return "toString(toStartOfMonth(detected_at, " + almaty + "))"
	}
	return "''"
}

// statsSource is the FROM of incident aggregates: the latest version of
// each incident in the query's bounds and scope, one row per sector when
// sectors are grouped or filtered.
func (s *Store) statsSource(q StatsQuery, cols string) (string, []any, error) {
	for _, d := range q.By {
		if !slices.Contains(StatsDimensions, d) {
			return "", nil, fmt.Errorf("store: unknown statistics dimension %q", d)
		}
	}
	if !slices.Contains(StatsIntervals, q.Interval) {
		return "", nil, fmt.Errorf("store: unknown statistics interval %q", q.Interval)
	}
	var w where
	incidentScope(&w, access.EventScope{OISC: q.Scope.OISC, Org: q.Scope.Org})
	w.add("national = 0")
	w.add("tlp != 'RED'")
	w.add("detected_at >= ?", q.From.UTC())
	w.add("detected_at < ?", q.To.UTC())
	sectors := q.Sectors
	if len(q.Scope.Sectors) > 0 {
		if len(sectors) == 0 {
			sectors = q.Scope.Sectors
		} else {
			sectors = slices.DeleteFunc(slices.Clone(sectors), func(x string) bool { return !slices.Contains(q.Scope.Sectors, x) })
			if len(sectors) == 0 {
				sectors = []string{"\x00none"}
			}
		}
	}
	explode := slices.Contains(q.By, "sector")
	sectorCol := "''"
	if explode {
		sectorCol = "arrayJoin(if(empty(sectors), [''], sectors))"
	}
	inner := "SELECT " + cols + ", org, detected_at, rsit_class, rsit_type, severity, " + sectorCol + " AS sector FROM " +
		s.table("incidents") + " FINAL" + w.String()
	args := w.args
	if len(sectors) > 0 {
		if explode {
			inner = "SELECT * FROM (" + inner + ") WHERE has(?, sector)"
		} else {
			inner = "SELECT * FROM (" + inner + " AND hasAny(sectors, ?))"
		}
		args = append(args, sectors)
	}
	return inner, args, nil
}

func groupCols(q StatsQuery) (sel []string, group []string) {
	sel = append(sel, periodExpr(q.Interval)+" AS period")
	group = append(group, "period")
	for _, d := range StatsDimensions {
		if slices.Contains(q.By, d) {
			sel = append(sel, dimColumns[d])
			group = append(group, dimColumns[d])
		} else {
			sel = append(sel, "''")
		}
	}
	return sel, group
}

// IncidentStats counts incidents by the query's dimensions and period.
func (s *Store) IncidentStats(ctx context.Context, q StatsQuery) ([]StatsRow, error) {
	src, args, err := s.statsSource(q, "1 AS one")
	if err != nil {
		return nil, err
	}
	sel, group := groupCols(q)
	sql := "SELECT " + strings.Join(sel, ", ") + ", count(), uniqExact(org) FROM (" + src + ") GROUP BY " +
		strings.Join(group, ", ") + " ORDER BY " + strings.Join(group, ", ")
	return s.statsRows(ctx, sql, args, q.K, func(r *StatsRow, extra []any) {
		r.Incidents, r.Organisations = int(*extra[0].(*uint64)), int(*extra[1].(*uint64))
	}, new(uint64), new(uint64))
}

// ResponseTimes summarises time to acknowledge, contain and resolve (from
// detected_at) by the query's dimensions and period.
func (s *Store) ResponseTimes(ctx context.Context, q StatsQuery) ([]StatsRow, error) {
	src, args, err := s.statsSource(q, "toInt64(acknowledged_at) AS ack, toInt64(contained_at) AS con, toInt64(resolved_at) AS res")
	if err != nil {
		return nil, err
	}
	sel, group := groupCols(q)
	agg := func(col string) string {
		cond := col + " > 0 AND " + col + " >= toInt64(detected_at)"
		d := "(" + col + " - toInt64(detected_at))"
		return "countIf(" + cond + "), avgIf(" + d + ", " + cond + "), toFloat64(quantileExactIf(0.5)(" + d + ", " + cond + "))"
	}
	sql := "SELECT " + strings.Join(sel, ", ") + ", count(), uniqExact(org), " + agg("ack") + ", " + agg("con") + ", " + agg("res") +
		" FROM (" + src + ") GROUP BY " + strings.Join(group, ", ") + " ORDER BY " + strings.Join(group, ", ")
	dur := func(n *uint64, mean, med *float64) *Durations {
		if *n == 0 {
			return nil
		}
		return &Durations{N: int(*n), Mean: *mean, Median: *med}
	}
	var cnt, orgs, n1, n2, n3 uint64
	var m1, m2, m3, q1, q2, q3 float64
	return s.statsRows(ctx, sql, args, q.K, func(r *StatsRow, _ []any) {
		r.Incidents, r.Organisations = int(cnt), int(orgs)
		r.Acknowledged, r.Contained, r.Resolved = dur(&n1, &m1, &q1), dur(&n2, &m2, &q2), dur(&n3, &m3, &q3)
	}, &cnt, &orgs, &n1, &m1, &q1, &n2, &m2, &q2, &n3, &m3, &q3)
}

// statsRows runs an aggregate whose first five columns are period and the
// four dimensions, followed by extra (scanned into the given pointers;
// the second extra is the organisation count k is checked against).
func (s *Store) statsRows(ctx context.Context, sql string, args []any, k int, fill func(*StatsRow, []any), extra ...any) ([]StatsRow, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify("statistics", err)
	}
	defer rows.Close()
	out := []StatsRow{}
	for rows.Next() {
		var r StatsRow
		dest := append([]any{&r.Period, &r.Category, &r.Type, &r.Severity, &r.Sector}, extra...)
		if err := rows.Scan(dest...); err != nil {
			return nil, classify("statistics", err)
		}
		fill(&r, extra)
		if r.Organisations < k {
			r = StatsRow{Period: r.Period, Category: r.Category, Type: r.Type, Severity: r.Severity, Sector: r.Sector, Withheld: true}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("statistics", err)
	}
	return out, nil
}

// Timeliness counts the notification stages of the query's incidents by
// regime and stage (and sector when grouped): sent on time, late, overdue
// at now (pending past due), pending, waived, superseded.
func (s *Store) Timeliness(ctx context.Context, q StatsQuery, now time.Time) ([]StatsRow, error) {
	src, args, err := s.statsSource(q, "incident_id")
	if err != nil {
		return nil, err
	}
	sectorSel := "''"
	group := "regime, stage"
	if slices.Contains(q.By, "sector") {
		sectorSel, group = "i_sector", "regime, stage, i_sector"
	}
	sql := "SELECT regime, stage, " + sectorSel + ", uniqExact(i_org)," +
		" countIf(status = 'sent'), countIf(status = 'late'), countIf(status = 'pending' AND toUInt32(due_at) > 0 AND due_at < ?)," +
		" countIf(status = 'pending' AND NOT (toUInt32(due_at) > 0 AND due_at < ?)), countIf(status = 'waived'), countIf(status = 'superseded')" +
		" FROM " + s.table("incident_stages") + " FINAL ALL INNER JOIN (SELECT incident_id, org AS i_org, sector AS i_sector FROM (" + src + "))" +
		" USING incident_id" +
		" GROUP BY " + group + " ORDER BY " + group
	args = append([]any{now.UTC(), now.UTC()}, args...)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify("timeliness", err)
	}
	defer rows.Close()
	out := []StatsRow{}
	for rows.Next() {
		var r StatsRow
		var orgs, ontime, late, overdue, pending, waived, superseded uint64
		if err := rows.Scan(&r.Regime, &r.Stage, &r.Sector, &orgs, &ontime, &late, &overdue, &pending, &waived, &superseded); err != nil {
			return nil, classify("timeliness", err)
		}
		if int(orgs) < q.K {
			out = append(out, StatsRow{Regime: r.Regime, Stage: r.Stage, Sector: r.Sector, Withheld: true})
			continue
		}
		r.Organisations, r.OnTime, r.Late, r.Overdue, r.Pending, r.Waived, r.Superseded =
			int(orgs), int(ontime), int(late), int(overdue), int(pending), int(waived), int(superseded)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("timeliness", err)
	}
	return out, nil
}
