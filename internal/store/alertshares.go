package store

import (
	"context"
	"fmt"
	"strings"
)

// alertSharesMigration makes the alerts table one row per (alert,
// organisation), versioned: a correlation alert that spans organisations is
// stored once per involved organisation (same alert id, that organisation's
// share of the events), and an episode's update replaces its row
// (ReplacingMergeTree(version)). The table is rebuilt under the same name
// (18.16 cannot change a table's key): a new table, the old rows copied at
// version 0, then a swap; every step is safe to run again.
var alertSharesMigration = migration{5, "alert shares", []string{
	`CREATE TABLE IF NOT EXISTS {db}.alerts_shares_new (
		alert_id UUID,
		received_at DateTime,
		detected_at DateTime,
		event_time DateTime,
		rule_id String,
		rule_title String,
		level String,
		tags Array(String),
		attack Array(String),
		event_ids Array(String),
		collector String,
		oisc String,
		org String,
		object String,
		sector String,
		asset String,
		criticality UInt8,
		host_name String,
		source_ip String,
		user_name String,
		ruleset String,
		doc String,
		version UInt64,
		correlation UInt8,
		event_count UInt32
	) ENGINE = ReplacingMergeTree(version)
	PARTITION BY toYYYYMM(received_at)
	ORDER BY (received_at, alert_id, org)`,
}, nil, swapAlertShares}

const oldAlertColumns = "alert_id, received_at, detected_at, event_time, rule_id, rule_title, level, tags, attack, event_ids, " +
	"collector, oisc, org, object, sector, asset, criticality, host_name, source_ip, user_name, ruleset, doc"

func (s *Store) engineOf(ctx context.Context, table string) (string, error) {
	var engine string
	rows, err := s.conn.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", s.db, table)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&engine); err != nil {
			return "", err
		}
	}
	return engine, rows.Err()
}

func swapAlertShares(ctx context.Context, s *Store) error {
	engine, err := s.engineOf(ctx, "alerts")
	if err != nil {
		return err
	}
	if strings.Contains(engine, "ReplacingMergeTree(version)") {
		// Swapped already (by this migration before it was recorded, or by
		// another role): drop the leftover new table if any.
		return s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+s.table("alerts_shares_new"))
	}
	if engine != "" {
		if err := s.conn.Exec(ctx, "INSERT INTO "+s.table("alerts_shares_new")+" ("+oldAlertColumns+", version, event_count) SELECT "+
			oldAlertColumns+", 0, toUInt32(length(event_ids)) FROM "+s.table("alerts")); err != nil {
			return fmt.Errorf("copy alerts: %w", err)
		}
		if err := s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+s.table("alerts_v2")); err != nil {
			return err
		}
		err = s.conn.Exec(ctx, "RENAME TABLE "+s.table("alerts")+" TO "+s.table("alerts_v2")+", "+
			s.table("alerts_shares_new")+" TO "+s.table("alerts"))
	} else {
		err = s.conn.Exec(ctx, "RENAME TABLE "+s.table("alerts_shares_new")+" TO "+s.table("alerts"))
	}
	if err != nil {
		// Another role may have swapped at the same time.
		if e, herr := s.engineOf(ctx, "alerts"); herr == nil && strings.Contains(e, "ReplacingMergeTree(version)") {
			return nil
		}
		return fmt.Errorf("swap alerts: %w", err)
	}
	return nil
}
