// Package storetest gives tests a ClickHouse database of their own.
//
// The server is the one `make test` started (its native address in
// KUZET_TEST_CLICKHOUSE). Without it, a private server is started once per
// test binary when clickhouse-server is installed (the kernel kills it when
// the test binary exits); otherwise the test is skipped, or failed when
// CI=true. `go test -short` skips every test that needs ClickHouse.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// EnvAddr names the variable holding the test server's native address.
const EnvAddr = chlocal.EnvTestAddr

var (
	once    sync.Once
	addr    string
	onceErr error
)

// Addr returns the native address of a ClickHouse server for tests.
func Addr(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs ClickHouse; skipped with -short")
	}
	if a := os.Getenv(EnvAddr); a != "" {
		return a
	}
	once.Do(func() {
		if _, err := chlocal.Find(); err != nil {
			onceErr = err
			return
		}
		dir, err := os.MkdirTemp("", "kuzet-storetest-")
		if err != nil {
			onceErr = err
			return
		}
		s, err := chlocal.Start(context.Background(), chlocal.Options{Dir: dir})
		if err != nil {
			onceErr = err
			return
		}
		addr = s.Addr()
	})
	if onceErr != nil || addr == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("no ClickHouse for tests (set %s or install clickhouse-server): %v", EnvAddr, onceErr)
		}
		tb.Skipf("no ClickHouse for tests: %v", onceErr)
	}
	return addr
}

// Config returns a ClickHouse configuration for a fresh database of the
// test's own, dropped when the test ends.
func Config(tb testing.TB) config.ClickHouse {
	tb.Helper()
	cfg := config.DefaultClickHouse()
	cfg.Addr = []string{Addr(tb)}
	cfg.Database = freshName()
	cfg.QueryTimeout = 30 * time.Second
	dropAtCleanup(tb, cfg)
	return cfg
}

// freshName is a database name no other test uses.
func freshName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test_" + hex.EncodeToString(b[:])
}

// dropAtCleanup drops cfg's database (on every server of its cluster)
// when the test ends.
func dropAtCleanup(tb testing.TB, cfg config.ClickHouse) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := store.Open(ctx, cfg, nil)
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.DropDatabase(ctx)
	})
}

// Open returns a migrated store on a fresh database of the test's own.
func Open(tb testing.TB) *store.Store {
	tb.Helper()
	return openMigrated(tb, Config(tb)) // Config drops it at cleanup
}

// OpenWith returns a migrated store on cfg's database, closed and dropped
// when the test ends.
func OpenWith(tb testing.TB, cfg config.ClickHouse) *store.Store {
	tb.Helper()
	dropAtCleanup(tb, cfg)
	return openMigrated(tb, cfg)
}

func openMigrated(tb testing.TB, cfg config.ClickHouse) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

var (
	clusterOnce sync.Once
	cluster     *chlocal.Replicated
	clusterErr  error
)

// ClusterName is the ClickHouse cluster Replicated starts.
const ClusterName = "kuzet_test"

// Replicated returns a one-shard cluster of two ClickHouse replicas on a
// ZooKeeper of their own, started once per test binary (the kernel kills
// the servers when it exits). Tests may stop and start a replica (Start
// with its Options) but must leave it running. Skipped without
// clickhouse-server or ZooKeeper, failed when CI=true.
func Replicated(tb testing.TB) *chlocal.Replicated {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs ClickHouse and ZooKeeper; skipped with -short")
	}
	clusterOnce.Do(func() {
		if _, err := chlocal.Find(); err != nil {
			clusterErr = err
			return
		}
		if _, _, err := chlocal.FindZooKeeper(); err != nil {
			clusterErr = err
			return
		}
		dir, err := os.MkdirTemp("", "kuzet-cluster-")
		if err != nil {
			clusterErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cluster, clusterErr = chlocal.StartReplicated(ctx, dir, ClusterName, 2)
	})
	if clusterErr != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("no replicated ClickHouse for tests: %v", clusterErr)
		}
		tb.Skipf("no replicated ClickHouse for tests: %v", clusterErr)
	}
	return cluster
}

// ClusterConfig returns the configuration of a fresh database of the
// test's own on the cluster, connected to replica i (0 or 1), dropped on
// every replica when the test ends.
func ClusterConfig(tb testing.TB, database string, replica int) config.ClickHouse {
	tb.Helper()
	r := Replicated(tb)
	cfg := config.DefaultClickHouse()
	cfg.Addr = []string{r.Servers[replica].Addr()}
	cfg.Cluster = ClusterName
	cfg.Database = database
	cfg.QueryTimeout = 30 * time.Second
	return cfg
}

// ClusterDatabase returns a fresh database name, dropped on the cluster
// when the test ends.
func ClusterDatabase(tb testing.TB) string {
	tb.Helper()
	db := freshName()
	dropAtCleanup(tb, ClusterConfig(tb, db, 0))
	return db
}
