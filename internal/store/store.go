// Package store is kuzet's ClickHouse adapter: schema migrations, the
// idempotent event writer and the event queries.
//
// Every statement is SQL that ClickHouse 18.16 (Debian's package, used by CI)
// and current releases both run: no DateTime64, TTL, Map/JSON/IP types,
// JSONExtract, window functions, ILIKE or server-side {x:Type} parameters.
// User input is always bound as a parameter (clickhouse-go binds '?' on the
// client side with proper quoting); the only identifiers interpolated are the
// database name, validated as a plain identifier by config, and table names
// that are constants.
//
// Tables are idempotent by id: ReplacingMergeTree partitioned by the
// immutable received_at, so a redelivered batch replaces itself; queries
// that must be exact read with FINAL.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// Store is a connection pool to one ClickHouse database. It is safe for
// concurrent use; Close releases it.
type Store struct {
	conn    driver.Conn
	db      string
	timeout time.Duration
	log     *slog.Logger
	// cluster is the ClickHouse cluster of the tables, "" for one server;
	// insertDist writes through the Distributed tables (cluster.go).
	cluster    string
	insertDist bool
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Open connects to ClickHouse. It does not create the database: Migrate does.
func Open(ctx context.Context, cfg config.ClickHouse, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !identRe.MatchString(cfg.Database) {
		return nil, fmt.Errorf("store: database %q is not a plain identifier", cfg.Database)
	}
	compression := clickhouse.CompressionLZ4
	if cfg.Compression == config.CompressionNone {
		compression = clickhouse.CompressionNone
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:             cfg.Addr,
		Auth:             clickhouse.Auth{Database: "default", Username: cfg.User, Password: cfg.Password.Reveal()},
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.QueryTimeout,
		MaxOpenConns:     cmp.Or(cfg.MaxOpenConns, 16),
		MaxIdleConns:     cmp.Or(cfg.MaxIdleConns, 4),
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		Compression:      &clickhouse.Compression{Method: compression},
		// An idle connection keeps no block buffer: one grown by a large
		// INSERT would otherwise stay allocated in the pool.
		FreeBufOnConnRelease: true,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	return &Store{conn: conn, db: cfg.Database, timeout: cfg.QueryTimeout, log: log,
		cluster: cfg.Cluster, insertDist: cfg.Insert == config.InsertDistributed}, nil
}

// Database returns the database name.
func (s *Store) Database() string { return s.db }

// Ping checks that the server answers within the query timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.conn.Ping(ctx)
}

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }

// table returns the qualified name of a kuzet table.
func (s *Store) table(name string) string { return "`" + s.db + "`.`" + name + "`" }

// ErrUnavailable wraps errors that mean ClickHouse could not be reached or
// did not answer; the caller should retry with backoff.
var ErrUnavailable = errors.New("clickhouse unavailable")

// DropDatabase drops the store's database (on every server of a cluster).
// For tests and `kuzet` admin use.
func (s *Store) DropDatabase(ctx context.Context) error {
	return s.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+s.db+"`"+s.onCluster())
}

// Table returns the qualified name of a kuzet table, for tests and tooling.
func (s *Store) Table(name string) string { return s.table(name) }

// insert writes rows through a prepared batch: the native protocol's way to
// insert (an INSERT ... VALUES through Exec hangs on ClickHouse 18.16).
func (s *Store) insert(ctx context.Context, table, columns string, rows ...[]any) error {
	b, err := s.conn.PrepareBatch(s.insertContext(ctx), "INSERT INTO "+s.writeTable(table)+" ("+columns+")")
	if err != nil {
		return classify("prepare insert into "+table, err)
	}
	defer func() { _ = b.Abort() }()
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			return fmt.Errorf("store: append to %s: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		return classify("insert into "+table, err)
	}
	return nil
}

// QueryRowScan runs a query that returns one row and scans it; for tests
// and admin tooling. ctx's deadline reaches the server (withDeadline).
func (s *Store) QueryRowScan(ctx context.Context, sql string, dest ...any) error {
	return s.conn.QueryRow(withDeadline(ctx), sql).Scan(dest...)
}

// Exec runs a statement without results; for tests (tampering with tables
// on purpose) and admin tooling. No role calls it.
func (s *Store) Exec(ctx context.Context, sql string, args ...any) error {
	return s.conn.Exec(withDeadline(ctx), sql, args...)
}

// withDeadline sends ctx's deadline to ClickHouse as max_execution_time
// (whole seconds, at least one), so the server stops a read when its caller
// gives up: closing the connection alone leaves the query running there.
func withDeadline(ctx context.Context) context.Context {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx
	}
	secs := max(1, int(math.Ceil(time.Until(dl).Seconds())))
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": secs}))
}

// QueryRows runs a query whose columns are all strings and returns its
// rows; for tests and admin tooling.
func (s *Store) QueryRows(ctx context.Context, sql string, args ...any) ([][]string, error) {
	rows, err := s.conn.Query(withDeadline(ctx), sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]string, len(rows.Columns()))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}
