package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// A cluster (config clickhouse.cluster) keeps every table as a replicated
// table <name>_local on each server, created ON CLUSTER, under a
// Distributed table <name> with the columns of the local one. Reads go
// through the Distributed tables, so every query is the same as on one
// server; writes go to the connected server's local tables (replication
// copies each block to the other replicas and deduplicates a block
// inserted again) or, with insert: distributed, through the Distributed
// table synchronously, sharded by the table's sorting key, so the rows
// that replace each other land on one shard.
//
// Migrations are written for one server; clusterize turns each of their
// statements into the cluster's. A migration whose statements cannot be
// turned (a rebuild by RENAME) has a cluster form in clusterMigrations.

// LocalSuffix ends the name of a cluster's replicated tables.
const LocalSuffix = "_local"

// onCluster is the ON CLUSTER clause of a cluster's DDL, "" on one server.
func (s *Store) onCluster() string {
	if s.cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + s.cluster + "`"
}

// Cluster returns the ClickHouse cluster of the tables, "" for one server.
func (s *Store) Cluster() string { return s.cluster }

// localName is the name of the table that holds a table's rows on this
// server: the replicated table in a cluster.
func (s *Store) localName(name string) string {
	if s.cluster == "" {
		return name
	}
	return name + LocalSuffix
}

// writeTable is the qualified table an INSERT into name writes to.
func (s *Store) writeTable(name string) string {
	if s.insertDist {
		return s.table(name)
	}
	return s.table(s.localName(name))
}

// insertContext makes an insert through a Distributed table synchronous:
// it returns once the rows are written on their shard, so an ack after it
// is an ack after a durable write.
func (s *Store) insertContext(ctx context.Context) context.Context {
	if !s.insertDist {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}

var (
	createTableRe = regexp.MustCompile(`(?s)^\s*CREATE TABLE IF NOT EXISTS \{db\}\.(\w+) \((.*)\)\s*ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?(.*)$`)
	orderByRe     = regexp.MustCompile(`ORDER BY (\([^)]*\)|\w+)\s*$`)
	createViewRe  = regexp.MustCompile(`(?s)^\s*CREATE MATERIALIZED VIEW IF NOT EXISTS \{db\}\.(\w+) TO \{db\}\.(\w+) AS(.*)$`)
	fromTableRe   = regexp.MustCompile(`FROM \{db\}\.(\w+)`)
)

// clusterize turns one statement of a migration into the cluster's
// statements: a table into its replicated local table and the Distributed
// table over it; a materialized view into one on the local tables (it
// runs where a block is inserted, before replication copies it).
func (s *Store) clusterize(st string) ([]string, error) {
	if s.cluster == "" {
		return []string{st}, nil
	}
	c := "`" + s.cluster + "`"
	if m := createTableRe.FindStringSubmatch(st); m != nil {
		name, cols, engine, args, rest := m[1], m[2], m[3], m[4], m[5]
		local := name + LocalSuffix
		rargs := "'/clickhouse/tables/{shard}/" + s.db + "/" + local + "', '{replica}'"
		if strings.TrimSpace(args) != "" {
			rargs += ", " + args
		}
		key := orderByRe.FindStringSubmatch(strings.TrimSpace(rest))
		if key == nil {
			return nil, fmt.Errorf("store: cluster: table %s has no ORDER BY to shard by", name)
		}
		shard, err := shardingKey(cols, key[1])
		if err != nil {
			return nil, fmt.Errorf("store: cluster: table %s: %w", name, err)
		}
		return []string{
			"CREATE TABLE IF NOT EXISTS {db}." + local + " ON CLUSTER " + c + " (" + cols + ") ENGINE = Replicated" + engine + "(" + rargs + ")" + rest,
			"CREATE TABLE IF NOT EXISTS {db}." + name + " ON CLUSTER " + c + " AS {db}." + local +
				" ENGINE = Distributed(" + c + ", '" + s.db + "', '" + local + "', " + shard + ")",
		}, nil
	}
	if m := createViewRe.FindStringSubmatch(st); m != nil {
		body := fromTableRe.ReplaceAllString(m[3], "FROM {db}.${1}"+LocalSuffix)
		return []string{"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}." + m[1] + " ON CLUSTER " + c +
			" TO {db}." + m[2] + LocalSuffix + " AS" + body}, nil
	}
	return nil, fmt.Errorf("store: cluster: no cluster form of the statement %.60q", strings.TrimSpace(st))
}

var columnDefRe = regexp.MustCompile(`(?m)^\s*(\w+) (\w+)`)

// shardingKey hashes a table's sorting key, so rows that replace each
// other (one key) go to one shard. cityHash64 of 18.16 takes no UUID: a
// UUID is hashed as its text.
func shardingKey(cols, orderBy string) (string, error) {
	types := map[string]string{}
	for _, m := range columnDefRe.FindAllStringSubmatch(cols, -1) {
		types[m[1]] = m[2]
	}
	var args []string
	for _, c := range strings.Split(strings.Trim(orderBy, "()"), ",") {
		c = strings.TrimSpace(c)
		switch t, ok := types[c]; {
		case !ok:
			return "", fmt.Errorf("sorting key column %q is not a column", c)
		case t == "UUID":
			args = append(args, "toString("+c+")")
		default:
			args = append(args, c)
		}
	}
	return "cityHash64(" + strings.Join(args, ", ") + ")", nil
}

// clusterMigrations are the cluster forms of migrations clusterize cannot
// turn. A cluster's schema starts at the latest layout, so:
//   - 2 (alerts, one row per alert) is superseded by 5;
//   - 5 (alert shares) rebuilt the alerts table under its name by RENAME;
//     a cluster creates that table as alerts at once.
var clusterMigrations = map[uint32]migration{
	2: {version: 2, name: "alerts (superseded by 5 in a cluster)"},
	5: {version: 5, name: alertSharesMigration.name, statements: []string{
		strings.Replace(alertSharesMigration.statements[0], "{db}.alerts_shares_new", "{db}.alerts", 1)}},
}

// forCluster returns the form of m this store applies.
func (s *Store) forCluster(m migration) migration {
	if s.cluster == "" {
		return m
	}
	if cm, ok := clusterMigrations[m.version]; ok {
		return cm
	}
	return m
}

// hasColumn reports whether table has the column on this server.
func (s *Store) hasColumn(ctx context.Context, table, col string) (bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		s.db, table, col).Scan(&n)
	return n > 0, err
}

// addClusterColumn adds c to the replicated tables (ALTER ON CLUSTER runs
// on one replica and replication carries it to the others) and then gives
// the Distributed table the local table's columns: 18.16 cannot ALTER a
// Distributed table on a replicated cluster, so a new one is made and
// swapped in by RENAME.
func (s *Store) addClusterColumn(ctx context.Context, c column) error {
	local := c.table + LocalSuffix
	ok, err := s.hasColumn(ctx, local, c.name)
	if err != nil {
		return err
	}
	if !ok {
		err := s.conn.Exec(ctx, "ALTER TABLE "+s.table(local)+s.onCluster()+" ADD COLUMN `"+c.name+"` "+c.def)
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return err
		}
		// The replica that ran it may be another one: wait for the change
		// to reach this one.
		for deadline := time.Now().Add(time.Minute); ; {
			if ok, err := s.hasColumn(ctx, local, c.name); err != nil || ok {
				if err != nil {
					return err
				}
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("column %s.%s not replicated to this server within a minute", local, c.name)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if ok, err := s.hasColumn(ctx, c.table, c.name); err != nil || ok {
		return err
	}
	engine, err := s.engineOf(ctx, c.table)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(engine, "Distributed(") {
		return fmt.Errorf("table %s is %q, not Distributed", c.table, engine)
	}
	cols, err := s.columnsOf(ctx, local)
	if err != nil {
		return err
	}
	next, prev := s.table(c.table+"_next"), s.table(c.table+"_prev")
	for _, st := range []string{
		"DROP TABLE IF EXISTS " + next + s.onCluster(),
		"DROP TABLE IF EXISTS " + prev + s.onCluster(),
		"CREATE TABLE " + next + s.onCluster() + " (" + cols + ") ENGINE = " + engine,
		"RENAME TABLE " + s.table(c.table) + " TO " + prev + ", " + next + " TO " + s.table(c.table) + s.onCluster(),
		"DROP TABLE IF EXISTS " + prev + s.onCluster(),
	} {
		if err := s.conn.Exec(ctx, st); err != nil {
			if ok, herr := s.hasColumn(ctx, c.table, c.name); herr == nil && ok {
				return nil // another role swapped it at the same time
			}
			return fmt.Errorf("distributed table %s: %w", c.table, err)
		}
	}
	return nil
}

// columnsOf returns the column definitions of a table on this server, for
// a CREATE TABLE.
func (s *Store) columnsOf(ctx context.Context, table string) (string, error) {
	// DESCRIBE lists them in order (18.16's system.columns has no
	// position); its first four columns are the same in every release.
	rows, err := s.QueryRows(ctx, "DESCRIBE TABLE "+s.table(table))
	if err != nil {
		return "", err
	}
	var defs []string
	for _, vals := range rows {
		if len(vals) < 4 {
			return "", fmt.Errorf("DESCRIBE %s: %d columns", table, len(vals))
		}
		name, typ, kind, expr := vals[0], vals[1], vals[2], vals[3]
		d := "`" + name + "` " + typ
		if kind != "" {
			d += " " + kind + " " + expr
		}
		defs = append(defs, d)
	}
	if len(defs) == 0 {
		return "", fmt.Errorf("table %s has no columns here", table)
	}
	return strings.Join(defs, ", "), nil
}
