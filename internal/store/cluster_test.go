package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func openCluster(t *testing.T, cfg config.ClickHouse) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migratedPair is a fresh database on the cluster, migrated through
// replica 1, and stores on each replica.
func migratedPair(t *testing.T) (db string, a, b *store.Store) {
	t.Helper()
	db = storetest.ClusterDatabase(t)
	a = openCluster(t, storetest.ClusterConfig(t, db, 0))
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, a, openCluster(t, storetest.ClusterConfig(t, db, 1))
}

// localCount counts the rows (not distinct) of a replica's local table.
func localCount(t *testing.T, s *store.Store, table, where string) (uint64, error) {
	t.Helper()
	var n uint64
	err := s.QueryRowScan(context.Background(), "SELECT count() FROM "+s.Table(table+store.LocalSuffix)+where, &n)
	return n, err
}

// TestClusterMigrationsReplicateAndDeduplicate migrates a database on a
// cluster of two replicas from one of them: every table is a replicated
// table on both servers under a Distributed table with the same columns,
// the other replica sees the schema as applied; events written on one
// replica are read on the other, locally and through the Distributed
// table, once each; a batch inserted again (a redelivery) is kept once by
// the replicated table's block deduplication, before any merge; writes
// through the Distributed table land on the replicas too.
func TestClusterMigrationsReplicateAndDeduplicate(t *testing.T) {
	db, a, b := migratedPair(t)
	ctx := context.Background()
	// Replica 2 reads its own copy: it sees the schema once replication
	// brought the last record.
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		for name, s := range map[string]*store.Store{"replica 1": a, "replica 2": b} {
			v, err := s.SchemaVersion(ctx)
			if err != nil || v != store.LatestSchema() {
				return fmt.Errorf("%s: schema version %d, %v; want %d", name, v, err, store.LatestSchema())
			}
		}
		return nil
	})
	if err := b.Migrate(ctx); err != nil { // applied already: nothing to do
		t.Fatal(err)
	}
	// Every table on replica 2: a Replicated engine locally, Distributed
	// over it, with the same columns (the ones later migrations added too).
	var tables []string
	rows, err := b.QueryRows(ctx, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]string{}
	for _, r := range rows {
		engines[r[0]] = r[1]
		tables = append(tables, r[0])
	}
	for _, want := range []string{"events", "alerts", "incidents", "incident_alerts", "audit_log", "schema_migrations", "events_5m", "alert_triage"} {
		if !strings.HasPrefix(engines[want+store.LocalSuffix], "Replicated") {
			t.Errorf("%s%s is %q, want a Replicated engine (tables: %v)", want, store.LocalSuffix, engines[want+store.LocalSuffix], tables)
		}
		if engines[want] != "Distributed" {
			t.Errorf("%s is %q, want Distributed", want, engines[want])
		}
	}
	for table, col := range map[string]string{"events": "search", "incidents": "resolved_at", "incident_alerts": "unlinked"} {
		for _, name := range []string{table, table + store.LocalSuffix} {
			rows, err := b.QueryRows(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ? AND name = ?", db, name, col)
			if err != nil || len(rows) != 1 {
				t.Errorf("%s has no column %s (%v)", name, col, err)
			}
		}
	}
	if strings.Contains(strings.Join(tables, " "), "_next") || strings.Contains(strings.Join(tables, " "), "_prev") {
		t.Errorf("leftover tables of a Distributed swap: %v", tables)
	}

	at := time.Now().UTC().Truncate(time.Second)
	batch := make([]store.EventRow, 200)
	for i := range batch {
		batch[i] = mkRow(t, at, "org-a", "energy", fmt.Sprintf("event %d", i))
	}
	for range 2 { // the second time is a redelivered batch
		if err := a.InsertEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	proctest.Eventually(t, 30*time.Second, func(context.Context) error {
		n, err := localCount(t, b, "events", "")
		if err != nil || n != 200 {
			return fmt.Errorf("replica 2 holds %d rows, %v; want 200 (replicated once, the retried block deduplicated)", n, err)
		}
		return nil
	})
	if n, err := localCount(t, a, "events", ""); err != nil || n != 200 {
		t.Errorf("replica 1 holds %d rows, %v; want 200", n, err)
	}
	for name, s := range map[string]*store.Store{"replica 1": a, "replica 2": b} {
		var rows, ids uint64
		if err := s.QueryRowScan(ctx, "SELECT count(), uniqExact(event_id) FROM "+s.Table("events"), &rows, &ids); err != nil {
			t.Fatal(err)
		}
		if rows != 200 || ids != 200 {
			t.Errorf("%s through the Distributed table: %d rows of %d ids, want 200 of 200", name, rows, ids)
		}
		got, err := s.QueryEvents(ctx, store.EventQuery{Limit: 500})
		if err != nil || len(got.Events) != 200 {
			t.Errorf("%s: QueryEvents gave %d events, %v; want 200", name, len(got.Events), err)
		}
	}

	// Retention run on replica 2 drops an old partition on both replicas
	// (the replicated drop) and nothing else.
	old := make([]store.EventRow, 10)
	for i := range old {
		old[i] = mkRow(t, at.AddDate(-4, 0, 0), "org-a", "energy", fmt.Sprintf("four years old %d", i))
	}
	if err := a.InsertEvents(ctx, old); err != nil {
		t.Fatal(err)
	}
	proctest.Eventually(t, 30*time.Second, func(context.Context) error {
		if n, err := localCount(t, b, "events", ""); err != nil || n != 210 {
			return fmt.Errorf("replica 2 holds %d rows, %v; want 210", n, err)
		}
		return nil
	})
	dropped, err := b.ApplyRetention(ctx, threeYears, time.Now())
	if err != nil || len(dropped) != 1 || dropped[0].Table != "events" {
		t.Fatalf("retention dropped %v, %v; want one events partition", dropped, err)
	}
	proctest.Eventually(t, 30*time.Second, func(context.Context) error {
		for name, s := range map[string]*store.Store{"replica 1": a, "replica 2": b} {
			if n, err := localCount(t, s, "events", ""); err != nil || n != 200 {
				return fmt.Errorf("%s holds %d rows after the retention drop, %v; want 200", name, n, err)
			}
		}
		return nil
	})

	// Through the Distributed table, from replica 2: on both replicas.
	cfg := storetest.ClusterConfig(t, db, 1)
	cfg.Insert = config.InsertDistributed
	d := openCluster(t, cfg)
	more := make([]store.EventRow, 50)
	for i := range more {
		more[i] = mkRow(t, at, "org-b", "energy", fmt.Sprintf("through the distributed table %d", i))
	}
	if err := d.InsertEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	proctest.Eventually(t, 30*time.Second, func(context.Context) error {
		for name, s := range map[string]*store.Store{"replica 1": a, "replica 2": b} {
			if n, err := localCount(t, s, "events", " WHERE org = 'org-b'"); err != nil || n != 50 {
				return fmt.Errorf("%s holds %d of the 50 rows written through the Distributed table, %v", name, n, err)
			}
		}
		return nil
	})
}

// TestClusterReplicaCatchesUpAfterRestart writes batches on replica 1
// while replica 2 is stopped and started again: the writes never fail,
// and afterwards replica 2 holds every row once.
func TestClusterReplicaCatchesUpAfterRestart(t *testing.T) {
	r := storetest.Replicated(t)
	_, a, b := migratedPair(t)
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		written atomic.Int64
		stop    = make(chan struct{})
		werr    error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			batch := make([]store.EventRow, 100)
			at := time.Now().UTC().Truncate(time.Second)
			for j := range batch {
				batch[j] = mkRow(t, at, "org-a", "energy", fmt.Sprintf("batch %d event %d", i, j))
			}
			if err := a.InsertEvents(ctx, batch); err != nil {
				werr = err
				return
			}
			written.Add(int64(len(batch)))
		}
	}()
	time.Sleep(time.Second)
	second := r.Servers[1]
	if err := second.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	whileDown := written.Load()
	time.Sleep(3 * time.Second)
	if written.Load() == whileDown && werr == nil {
		t.Error("no batch was written on replica 1 while replica 2 was down")
	}
	restarted, err := chlocal.Start(ctx, second.Options())
	if err != nil {
		t.Fatal(err)
	}
	r.Servers[1] = restarted
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("a write on replica 1 failed while replica 2 was down or restarting: %v", werr)
	}
	total := uint64(written.Load())
	proctest.Eventually(t, 60*time.Second, func(context.Context) error {
		var rows, ids uint64
		if err := b.QueryRowScan(ctx, "SELECT count(), uniqExact(event_id) FROM "+b.Table("events"+store.LocalSuffix), &rows, &ids); err != nil {
			return err
		}
		if rows != total || ids != total {
			return fmt.Errorf("replica 2 holds %d rows of %d ids; want %d of %d", rows, ids, total, total)
		}
		return nil
	})
	t.Logf("%d events written on replica 1, %d of them while replica 2 was down or starting; replica 2 caught up", total, total-uint64(whileDown))
}

// TestClusterLayoutMismatchRefused: a store configured for one server
// refuses a cluster's database, and a cluster store a one-server database.
func TestClusterLayoutMismatchRefused(t *testing.T) {
	db := storetest.ClusterDatabase(t)
	ctx := context.Background()
	cl := openCluster(t, storetest.ClusterConfig(t, db, 0))
	if err := cl.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	plain := storetest.ClusterConfig(t, db, 1)
	plain.Cluster = ""
	if err := openCluster(t, plain).Migrate(ctx); err == nil || !strings.Contains(err.Error(), "set clickhouse.cluster") {
		t.Errorf("a one-server store migrated a cluster's database: %v", err)
	}
	single := storetest.Open(t) // a database on the one server of the other tests
	cfg := storetest.ClusterConfig(t, single.Database(), 0)
	cfg.Addr = []string{storetest.Addr(t)}
	if err := openCluster(t, cfg).Migrate(ctx); err == nil || !strings.Contains(err.Error(), "created on one server") {
		t.Errorf("a cluster store migrated a one-server database: %v", err)
	}
}
