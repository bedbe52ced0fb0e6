package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// migration is one versioned schema step. Statements use {db} for the
// database name and must be idempotent (IF NOT EXISTS), because two roles may
// migrate at once and a migration may be interrupted before it is recorded.
type migration struct {
	version    uint32
	name       string
	statements []string
	// columns are added when missing: ClickHouse 18.16 has no ALTER TABLE
	// ... ADD COLUMN IF NOT EXISTS.
	columns []column
	// run, if set, runs after the statements and columns; it must be
	// idempotent too.
	run func(ctx context.Context, s *Store) error
}

// column is a column a migration adds to a table.
type column struct {
	table, name, def string
}

// migrations are applied in order; never edit a released one, add a new one.
var migrations = []migration{
	{1, "events", []string{
		`CREATE TABLE IF NOT EXISTS {db}.events (
			event_id UUID,
			received_at DateTime,
			ts DateTime,
			collector String,
			oisc String,
			org String,
			object String,
			sector String,
			asset String,
			criticality UInt8,
			egov UInt8,
			input String,
			source_type String,
			kind String,
			category Array(String),
			action String,
			outcome String,
			severity Int32,
			source_ip String,
			source_port UInt16,
			destination_ip String,
			destination_port UInt16,
			transport String,
			user_name String,
			host_name String,
			process_name String,
			rule_name String,
			observer_vendor String,
			observer_product String,
			message String,
			doc String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMMDD(received_at)
		ORDER BY (received_at, event_id)`,
	}, nil, nil},
	{2, "alerts", []string{
		`CREATE TABLE IF NOT EXISTS {db}.alerts (
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
			doc String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(received_at)
		ORDER BY (received_at, alert_id)`,
	}, nil, nil},
	// search holds the event's text as a reader sees it (its JSON values,
	// unescaped, one per line; no keys, no syntax), for q. Rows written
	// before it read their message instead.
	{3, "events search text", nil, []column{{"events", "search", "String DEFAULT message"}}, nil},
	incidentsMigration,
	alertSharesMigration,
	notificationsMigration,
	alertTriageMigration,
	// tlp_recipients: who may read an incident labelled TLP:RED.
	{11, "incident TLP:RED recipients", nil, []column{{"incidents", "tlp_recipients", "Array(String)"}}, nil},
	// unlinked: an alert a split moved out of an incident (the latest row
	// of an incident and alert wins).
	{12, "incident alert unlinks", nil, []column{{"incident_alerts", "unlinked", "UInt8 DEFAULT 0"}}, nil},
}

// Migrate creates the database if needed and applies the migrations not yet
// recorded in schema_migrations. It is safe to run concurrently from several
// roles: every statement is idempotent.
func (s *Store) Migrate(ctx context.Context) error { return s.migrateTo(ctx, LatestSchema()) }

// migrateTo applies the migrations up to version upto.
func (s *Store) migrateTo(ctx context.Context, upto uint32) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := s.checkLayout(ctx); err != nil {
		return err
	}
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.db+"`"+s.onCluster()); err != nil {
		return fmt.Errorf("store: create database: %w", err)
	}
	if err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
		version UInt32, name String, applied_at DateTime
	) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	applied := map[uint32]bool{}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM "+s.table("schema_migrations"))
	if err != nil {
		return fmt.Errorf("store: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range ordered() {
		if applied[m.version] || m.version > upto {
			continue
		}
		m = s.forCluster(m)
		for _, st := range m.statements {
			if err := s.exec(ctx, st); err != nil {
				return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		for _, c := range m.columns {
			if err := s.addColumn(ctx, c); err != nil {
				return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if m.run != nil {
			if err := m.run(ctx, s); err != nil {
				return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if err := s.insert(ctx, "schema_migrations", "version, name, applied_at", []any{m.version, m.name, time.Now().UTC()}); err != nil {
			return fmt.Errorf("store: record migration %d: %w", m.version, err)
		}
		s.log.Info("schema migration applied", "version", m.version, "name", m.name, "database", s.db)
	}
	return nil
}

// checkLayout refuses a database laid out for one server when the store is
// configured for a cluster, and the other way round: writing plain tables
// beside Distributed ones (or the reverse) would split the data.
func (s *Store) checkLayout(ctx context.Context) error {
	engine, err := s.engineOf(ctx, "schema_migrations")
	if err != nil || engine == "" {
		return err
	}
	switch dist := strings.HasPrefix(engine, "Distributed("); {
	case dist && s.cluster == "":
		return fmt.Errorf("store: database %s is laid out for a ClickHouse cluster (its tables are Distributed): set clickhouse.cluster", s.db)
	case !dist && s.cluster != "":
		return fmt.Errorf("store: database %s was created on one server (plain tables): a cluster needs a database created in cluster mode (deploy/README.md)", s.db)
	}
	return nil
}

// exec runs a migration statement, in its cluster form in a cluster, with
// {db} replaced by the database.
func (s *Store) exec(ctx context.Context, st string) error {
	sts, err := s.clusterize(st)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if err := s.conn.Exec(ctx, strings.ReplaceAll(st, "{db}", "`"+s.db+"`")); err != nil {
			return err
		}
	}
	return nil
}

// addColumn adds c unless the table has it; a concurrent migration that
// added it first is success too.
func (s *Store) addColumn(ctx context.Context, c column) error {
	if s.cluster != "" {
		return s.addClusterColumn(ctx, c)
	}
	has := func() (bool, error) { return s.hasColumn(ctx, c.table, c.name) }
	if ok, err := has(); err != nil || ok {
		return err
	}
	err := s.conn.Exec(ctx, "ALTER TABLE "+s.table(c.table)+" ADD COLUMN `"+c.name+"` "+c.def)
	if err != nil {
		if ok, herr := has(); herr == nil && ok {
			return nil
		}
	}
	return err
}

// SchemaVersion returns the highest applied migration, 0 when none.
func (s *Store) SchemaVersion(ctx context.Context) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var v uint32
	err := s.conn.QueryRow(ctx, "SELECT max(version) FROM "+s.table("schema_migrations")).Scan(&v)
	return v, err
}

// LatestSchema is the version Migrate brings a database to.
func LatestSchema() uint32 { ms := ordered(); return ms[len(ms)-1].version }

// ordered is the migrations by version (files of this package add theirs
// in init, so the list itself is not in order).
func ordered() []migration {
	ms := slices.Clone(migrations)
	slices.SortFunc(ms, func(a, b migration) int { return int(a.version) - int(b.version) })
	return ms
}
