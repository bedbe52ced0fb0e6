package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// counter reads the run's events from ClickHouse.
type counter struct {
	conn  driver.Conn
	table string
	run   string
	// from is the run's start less a margin: received_at is whole
	// seconds, and it bounds every scan to the run's rows.
	from uint32
}

func openCounter(cfg config.ClickHouse, run string, start time.Time) (*counter, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        cfg.Addr,
		Auth:        clickhouse.Auth{Database: "default", Username: cfg.User, Password: cfg.Password.Reveal()},
		DialTimeout: cmp.Or(cfg.DialTimeout, 5*time.Second),
		ReadTimeout: cmp.Or(cfg.QueryTimeout, time.Minute),
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return &counter{conn: conn, table: "`" + cfg.Database + "`.`events`", run: run, from: uint32(start.Unix() - 2)}, nil
}

func (c *counter) close() { _ = c.conn.Close() }

// like is the condition that a row is the run's.
func (c *counter) like() string { return "position(doc, 'kzlg-" + c.run + "-') > 0" }

// rows counts the events received since the run began, cheaply (a range
// of the primary key): every one of them is the run's when nothing else
// writes to the database meanwhile, and the exact count follows anyway.
func (c *counter) rows(ctx context.Context) (uint64, error) {
	var n uint64
	err := c.conn.QueryRow(ctx, "SELECT count() FROM "+c.table+" WHERE received_at >= toDateTime(?)", c.from).Scan(&n)
	return n, err
}

// exact counts the run's rows, distinct event ids and distinct markers.
func (c *counter) exact(ctx context.Context) (rows, ids, markers uint64, err error) {
	err = c.conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id), uniqExact(extract(doc, 'kzlg-"+c.run+"-([0-9]+)')) FROM "+c.table+
		" WHERE received_at >= toDateTime(?) AND "+c.like(), c.from).Scan(&rows, &ids, &markers)
	return
}

// derived counts the distinct alerts and incidents of the run's period
// (-1 for a table that cannot be read).
func (c *counter) derived(ctx context.Context) (alerts, incidents int64) {
	db, _, _ := strings.Cut(c.table, ".")
	count := func(table, id, at string) int64 {
		var n uint64
		if err := c.conn.QueryRow(ctx, "SELECT uniqExact("+id+") FROM "+db+".`"+table+"` WHERE "+at+" >= toDateTime(?)", c.from).Scan(&n); err != nil {
			return -1
		}
		return int64(n)
	}
	return count("alerts", "alert_id", "received_at"), count("incidents", "incident_id", "detected_at")
}

// sampled returns the sequence numbers and received_at of the sampled
// markers (sequence divisible by every) in rows received at or after
// from.
func (c *counter) sampled(ctx context.Context, from time.Time, every uint64, emit func(seq uint64, received time.Time)) error {
	// One thread: the poll's cost stays bounded by its wall time.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1}))
	rows, err := c.conn.Query(ctx, "SELECT toUInt64OrZero(extract(doc, 'kzlg-"+c.run+"-([0-9]+)')) AS seq, "+
		"extract(doc, '\"received_at\":\"([^\"]+)\"') FROM "+c.table+
		" WHERE received_at >= toDateTime(?) AND "+c.like()+" AND seq % ? = 0", uint32(max(from.Unix(), int64(c.from))), every)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq uint64
		var at string
		if err := rows.Scan(&seq, &at); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil || seq == 0 {
			continue
		}
		emit(seq, t)
	}
	return rows.Err()
}
