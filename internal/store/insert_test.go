package store_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
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

// TestInsertEventsColumnsAsRows inserts varied events (fields present and
// absent, timestamps outside DateTime's range, ports outside a port's,
// several blocks of one INSERT) with InsertEvents, which appends them
// column by column, and with the former row-by-row writer into another
// database, and checks that every column of every row reads back the same.
func TestInsertEventsColumnsAsRows(t *testing.T) {
	cols, row := storetest.Open(t), storetest.Open(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	at := time.Now().UTC().Truncate(time.Second)
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	const n = 400
	rows := make([]store.EventRow, 0, n)
	for i := range n {
		msg := pick("", "Failed password for root", "вход не выполнен: пользователь Әлия")
		if i%40 == 0 { // 10 rows of 512 KiB: the INSERT spans several 4 MiB blocks
			msg = strings.Repeat(pick("x", "ж"), 512<<10)
		}
		ts := at.Add(-time.Duration(r.IntN(3600)) * time.Second)
		switch i % 50 {
		case 1:
			ts = time.Time{}
		case 2:
			ts = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
		case 3:
			ts = time.Date(1969, 12, 31, 0, 0, 0, 0, time.FixedZone("", 5*3600))
		}
		ev := &event.Event{Timestamp: ts, Message: msg}
		if err := event.Stamp(ev, at.Add(time.Duration(i)*time.Millisecond), pick("c1", "c2"), pick("oisc-a", "oisc-b"), pick("syslog", "winevent-http")); err != nil {
			t.Fatal(err)
		}
		ev.Kuzet.Org, ev.Kuzet.Sector, ev.Kuzet.Object = pick("org-a", "org-b", ""), pick("energy", "banking", ""), pick("obj-1", "")
		ev.Kuzet.Asset, ev.Kuzet.SourceType = pick(event.AssetKnown, ""), pick("syslog", "winevent", "")
		ev.Kuzet.Criticality, ev.Kuzet.EGov = r.IntN(4), r.IntN(2) == 1
		ev.Event.Kind, ev.Event.Action, ev.Event.Outcome = pick("event", "alert"), pick("", "logon-failed"), pick("", "failure", "success")
		ev.Event.Severity = r.IntN(200) - 100
		switch r.IntN(3) {
		case 1:
			ev.Event.Category = []string{"authentication"}
		case 2:
			ev.Event.Category = []string{"network", "intrusion_detection"}
		}
		if r.IntN(2) == 0 {
			ev.Source = &event.Endpoint{IP: pick("10.0.0.1", "2001:db8::1", ""), Port: pick2(r, 0, 514, 70000, -1)}
		}
		if r.IntN(2) == 0 {
			ev.Destination = &event.Endpoint{IP: pick("192.0.2.7", ""), Port: pick2(r, 0, 22, 65535, 65536)}
		}
		if r.IntN(2) == 0 {
			ev.Network = &event.Network{Transport: pick("tcp", "udp", "")}
		}
		if r.IntN(2) == 0 {
			ev.User = &event.User{Name: pick("root", "Әлия", "")}
		}
		if r.IntN(2) == 0 {
			ev.Host = &event.Host{Name: pick("dc-01", "")}
		}
		if r.IntN(2) == 0 {
			ev.Process = &event.Process{Name: pick("sshd", `C:\Windows\System32\cmd.exe`, "")}
		}
		if r.IntN(2) == 0 {
			ev.Rule = &event.Rule{Name: pick("ET SCAN", "")}
		}
		if r.IntN(2) == 0 {
			ev.Observer = &event.Observer{Vendor: pick("Fortinet", ""), Product: pick("FortiGate", "")}
		}
		doc, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		er, err := store.NewEventRow(ev, doc)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, er)
	}
	if err := cols.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := row.InsertEventsRowWise(ctx, rows); err != nil {
		t.Fatal(err)
	}
	read := func(s *store.Store) [][]string {
		t.Helper()
		var sel []string
		for c := range strings.SplitSeq(store.EventColumns, ",") {
			c = strings.TrimSpace(c)
			if c == "category" {
				sel = append(sel, "arrayStringConcat(category, '|')")
			} else {
				sel = append(sel, "toString("+c+")")
			}
		}
		got, err := s.QueryRows(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM `"+s.Database()+"`.events ORDER BY event_id")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b := read(cols), read(row)
	if len(a) != n || len(b) != n {
		t.Fatalf("read back %d (columns) and %d (rows) events; want %d each", len(a), len(b), n)
	}
	names := strings.Split(store.EventColumns, ",")
	diffs := 0
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] && diffs < 10 {
				diffs++
				t.Errorf("event %s, column %s: %.80q written by columns, %.80q by rows", a[i][0], strings.TrimSpace(names[j]), a[i][j], b[i][j])
			}
		}
	}
}

func pick2(r *rand.Rand, v ...int) int { return v[r.IntN(len(v))] }
