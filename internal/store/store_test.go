package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func mkRow(t *testing.T, at time.Time, org, sector, msg string) store.EventRow {
	t.Helper()
	ev := &event.Event{Timestamp: at, Message: msg}
	if err := event.Stamp(ev, at, "c1", "oisc-a", "test"); err != nil {
		t.Fatal(err)
	}
	ev.Kuzet.Org, ev.Kuzet.Sector, ev.Kuzet.Object, ev.Kuzet.Asset = org, sector, org+"-obj", event.AssetKnown
	ev.Source = &event.Endpoint{IP: "10.0.0.1", Port: 514}
	doc, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.NewEventRow(ev, doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(t *testing.T, p store.EventPage) []string {
	t.Helper()
	var out []string
	for _, raw := range p.Events {
		var ev event.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Kuzet.EventID)
	}
	return out
}

func TestMigrateIdempotent(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != store.LatestSchema() {
		t.Fatalf("schema version %d, %v; want %d", v, err, store.LatestSchema())
	}
}

func TestInsertIdempotentAndQuery(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	var rows []store.EventRow
	for i := 0; i < 25; i++ {
		org, sector := "org-a", "banking"
		if i%5 == 0 {
			org, sector = "org-b", "electricity"
		}
		rows = append(rows, mkRow(t, base.Add(time.Duration(i/3)*time.Second), org, sector, fmt.Sprintf("msg %d Вход ВЫПОЛНЕН", i)))
	}
	if err := s.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// A redelivered batch: the same rows again, in two inserts.
	if err := s.InsertEvents(ctx, rows[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	n, err := s.CountEvents(ctx, store.EventQuery{})
	if err != nil || n != 25 {
		t.Fatalf("count = %d, %v; want 25", n, err)
	}
	// Paging through everything sees each event once, newest first.
	seen := map[string]bool{}
	q := store.EventQuery{Limit: 7}
	pages := 0
	for {
		p, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, id := range ids(t, p) {
			if seen[id] {
				t.Fatalf("event %s twice", id)
			}
			seen[id] = true
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if len(seen) != 25 || pages != 4 {
		t.Fatalf("paged %d events in %d pages, want 25 in 4", len(seen), pages)
	}
	// Filters and scope.
	for name, c := range map[string]struct {
		q    store.EventQuery
		want int
	}{
		"sector":                         {store.EventQuery{Sectors: []string{"electricity"}}, 5},
		"two sectors":                    {store.EventQuery{Sectors: []string{"electricity", "banking"}}, 25},
		"org":                            {store.EventQuery{Orgs: []string{"org-a"}}, 20},
		"object":                         {store.EventQuery{Objects: []string{"org-b-obj"}}, 5},
		"text cyrillic case-insensitive": {store.EventQuery{Text: "вход выполнен"}, 25},
		"text one":                       {store.EventQuery{Text: "msg 13 "}, 1},
		"text injection":                 {store.EventQuery{Text: "' OR 1=1 --"}, 0},
		"time range":                     {store.EventQuery{From: base, To: base.Add(3 * time.Second)}, 9},
		"scope org":                      {store.EventQuery{Scope: access.EventScope{Org: "org-b"}}, 5},
		"scope beats filter":             {store.EventQuery{Orgs: []string{"org-a"}, Scope: access.EventScope{Org: "org-b"}}, 0},
		"scope oisc other":               {store.EventQuery{Scope: access.EventScope{OISC: "oisc-z"}}, 0},
		"scope sectors":                  {store.EventQuery{Scope: access.EventScope{Sectors: []string{"banking"}}}, 20},
	} {
		t.Run(name, func(t *testing.T) {
			c.q.Limit = 100
			p, err := s.QueryEvents(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != c.want {
				t.Errorf("got %d events, want %d", len(p.Events), c.want)
			}
		})
	}
	if _, err := s.QueryEvents(ctx, store.EventQuery{Limit: 5, Cursor: "bm90IGEgY3Vyc29y"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	cfg := storetest.Config(t)
	cfg.Addr = []string{"127.0.0.1:1"}
	cfg.DialTimeout = 500 * time.Millisecond
	s, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.InsertEvents(context.Background(), []store.EventRow{mkRow(t, time.Now(), "o", "banking", "x")})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("insert to a closed port: %v, want ErrUnavailable", err)
	}
}

// TestInsertWithoutCompression: with clickhouse.compression none the
// blocks go uncompressed and read back whole, escapes and Cyrillic
// included.
func TestInsertWithoutCompression(t *testing.T) {
	cfg := storetest.Config(t)
	cfg.Compression = config.CompressionNone
	s := storetest.OpenWith(t, cfg)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	var rows []store.EventRow
	for i := range 300 {
		rows = append(rows, mkRow(t, at, "org-a", "banking", fmt.Sprintf(`Вход "zq-%03d" C:\x`, i)))
	}
	if err := s.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	page, err := s.QueryEvents(ctx, store.EventQuery{From: at.Add(-time.Hour), To: at.Add(time.Hour), Text: `вход "zq-017" c:\x`, Limit: 10})
	if err != nil || len(page.Events) != 1 || !strings.Contains(string(page.Events[0]), `zq-017`) {
		t.Fatalf("events found by their text = %d, %v; want the one", len(page.Events), err)
	}
	if n, err := s.CountEvents(ctx, store.EventQuery{From: at.Add(-time.Hour), To: at.Add(time.Hour)}); err != nil || n != 300 {
		t.Fatalf("events stored = %d, %v; want 300", n, err)
	}
}
