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
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.Database = "test_" + hex.EncodeToString(b[:])
	cfg.QueryTimeout = 30 * time.Second
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := store.Open(ctx, cfg, nil)
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.DropDatabase(ctx)
	})
	return cfg
}

// Open returns a migrated store on a fresh database of the test's own.
func Open(tb testing.TB) *store.Store {
	tb.Helper()
	cfg := Config(tb)
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
