package store

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Retention: ClickHouse 18.16 has no TTL, so the ncc drops, once a day,
// the partitions of events and alerts whose every row is older than the
// policy (ALTER TABLE ... DROP PARTITION: whole parts, no mutation). Only
// the tables named here are ever touched: incidents, their log, links
// and stages, the notification log, the audit log, digests, keys and the
// dashboards' count rollups are kept, whatever the policy.

// RetentionPolicy is how long rows are kept, by received_at.
type RetentionPolicy struct {
	Events, Alerts time.Duration
}

// retentionTable is a table the job may drop partitions of.
type retentionTable struct {
	name  string
	daily bool // PARTITION BY toYYYYMMDD; else toYYYYMM
	keep  func(RetentionPolicy) time.Duration
}

var retentionTables = []retentionTable{
	{"events", true, func(p RetentionPolicy) time.Duration { return p.Events }},
	{"alerts", false, func(p RetentionPolicy) time.Duration { return p.Alerts }},
	{"alert_triage", false, func(p RetentionPolicy) time.Duration { return p.Alerts }},
	// The dashboards' rollup of the entity values alerts carry (source
	// addresses, user and host names) goes with the alerts; the counts
	// (events_5m, alerts_1h) carry no such value and are kept for trends.
	{"alert_entities_1d", false, func(p RetentionPolicy) time.Duration { return p.Alerts }},
}

// RetentionTables lists the tables retention may drop partitions of.
func RetentionTables() []string {
	out := make([]string, len(retentionTables))
	for i, t := range retentionTables {
		out[i] = t.name
	}
	return out
}

// Partition is one partition of a table, as system.parts names it.
type Partition struct {
	Table     string `json:"table"`
	Partition string `json:"partition"`
}

var partitionValue = regexp.MustCompile(`^[0-9]{6}([0-9]{2})?$`)

// partitionEnd is the first instant after a partition's rows: the next
// day of a YYYYMMDD partition, the next month of a YYYYMM one, in the
// server's time zone, which is not known here; ok false for another
// form.
func partitionEnd(p string, daily bool) (time.Time, bool) {
	if !partitionValue.MatchString(p) || daily != (len(p) == 8) {
		return time.Time{}, false
	}
	layout := "200601"
	if daily {
		layout = "20060102"
	}
	t, err := time.Parse(layout, p)
	if err != nil {
		return time.Time{}, false
	}
	if daily {
		return t.AddDate(0, 0, 1), true
	}
	return t.AddDate(0, 1, 0), true
}

// PartitionsPast returns those of parts, of the retention tables, whose
// every row is older than the policy at now. A partition's bounds are in
// the server's time zone; a day's margin keeps any zone's rows within the
// policy. A partition of a form not expected is kept. A policy of zero
// keeps everything.
func PartitionsPast(parts []Partition, policy RetentionPolicy, now time.Time) []Partition {
	var out []Partition
	for _, p := range parts {
		i := slices.IndexFunc(retentionTables, func(t retentionTable) bool { return t.name == p.Table })
		if i < 0 {
			continue
		}
		t := retentionTables[i]
		keep := t.keep(policy)
		if keep <= 0 {
			continue
		}
		end, ok := partitionEnd(p.Partition, t.daily)
		if !ok {
			continue
		}
		if !end.Add(24 * time.Hour).After(now.UTC().Add(-keep)) {
			out = append(out, p)
		}
	}
	return out
}

// Partitions lists the active partitions of the retention tables.
func (s *Store) Partitions(ctx context.Context) ([]Partition, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var tables []string
	for _, t := range RetentionTables() {
		tables = append(tables, s.localName(t))
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND active AND has(?, table) ORDER BY table, partition",
		s.db, tables)
	if err != nil {
		return nil, classify("partitions", err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.Partition); err != nil {
			return nil, err
		}
		if s.cluster != "" {
			p.Table = strings.TrimSuffix(p.Table, LocalSuffix)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ApplyRetention drops the partitions past the policy and returns them.
// Dropping is idempotent: several ncc instances may run it.
func (s *Store) ApplyRetention(ctx context.Context, policy RetentionPolicy, now time.Time) ([]Partition, error) {
	parts, err := s.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	past := PartitionsPast(parts, policy, now)
	for i, p := range past {
		// The value is digits only (partitionValue): no injection.
		dctx, cancel := context.WithTimeout(ctx, s.timeout)
		// In a cluster, the replicated table's drop reaches every replica
		// through replication, also one down now (no ON CLUSTER to wait for).
		err := s.conn.Exec(withDeadline(dctx), "ALTER TABLE "+s.table(s.localName(p.Table))+" DROP PARTITION "+p.Partition)
		cancel()
		if err != nil {
			return past[:i], fmt.Errorf("store: retention: drop %s partition %s: %w", p.Table, p.Partition, err)
		}
	}
	return past, nil
}
