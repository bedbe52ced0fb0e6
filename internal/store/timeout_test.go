package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestQueryDeadlineReachesServer: a query's deadline is sent to ClickHouse
// as max_execution_time, so the server stops the query when the caller gives
// up, instead of running on after the client has gone.
func TestQueryDeadlineReachesServer(t *testing.T) {
	s := storetest.Open(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	marker := "deadline_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { // never leave an endless query behind, even on failure
		_ = s.Exec(context.Background(), "KILL QUERY WHERE position(query, '"+marker+"') > 0 SYNC")
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var n uint64
	start := time.Now()
	err := s.QueryRowScan(ctx, "SELECT count() FROM system.numbers WHERE number != 0 AND '"+marker+"' != ''", &n)
	if err == nil {
		t.Fatal("an endless query ended without an error")
	}
	t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
	// The server must not be running it any more.
	deadline := time.Now().Add(3 * time.Second)
	for {
		var running uint64
		if err := s.QueryRowScan(context.Background(),
			"SELECT count() FROM system.processes WHERE position(query, '"+marker+"') > 0 AND position(query, 'system.processes') = 0", &running); err != nil {
			t.Fatal(err)
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query still runs on the server %s after its deadline", time.Since(start)-time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
