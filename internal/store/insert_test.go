package store_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestInsertEventsWritesInBoundedBlocks inserts 500 events of 64 KB (98 MB
// of messages, documents and their search text) in one call and checks that the writer
// allocates less than the data it sends: it encodes the rows in blocks of a
// bounded size within the one INSERT, instead of copying the whole batch
// into columns, a send buffer and a compression buffer that each grow to
// its size (and stay that large in the connection pool).
func TestInsertEventsWritesInBoundedBlocks(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	const n = 500
	rows := make([]store.EventRow, 0, n)
	data := 0
	at := time.Now().UTC().Truncate(time.Second)
	for range n {
		msg := make([]byte, 64<<10)
		for j := range msg {
			msg[j] = 'a' + byte(r.IntN(26))
		}
		row := mkRow(t, at, "org-a", "energy", string(msg))
		rows = append(rows, row)
		data += len(row.Doc) + len(row.Ev.Message) + len(row.Search)
	}
	if err := s.InsertEvents(ctx, rows[:1]); err != nil { // a connection in the pool
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := s.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("inserting %d events (%.1f MB of messages, documents and search text) allocated %.1f MB", n, float64(data)/1e6, float64(allocated)/1e6)
	if allocated >= uint64(data) {
		t.Errorf("the insert allocated %.1f MB for %.1f MB of data; want less than the data", float64(allocated)/1e6, float64(data)/1e6)
	}
	got, err := s.CountEvents(ctx, store.EventQuery{})
	if err != nil || got != n {
		t.Fatalf("stored %d events, %v; want %d", got, err, n)
	}
}
