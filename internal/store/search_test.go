package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func TestSearchText(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"message":"C:\\Windows\\cmd.exe","kuzet":{"org":"bank"}}`, "C:\\Windows\\cmd.exe\nbank\n"},
		{`{"a" : "say \"hi\"", "n": -1.5e3, "ok": true, "z": null, "l": ["x", 4]}`, "say \"hi\"\n-1.5e3\nx\n4\n"},
		{`{"k\"ey":"v"}`, "v\n"},
		{`{"u":"\u0412\u0445\u043e\u0434"}`, "Вход\n"},
		{`{}`, ""},
	} {
		if got := store.SearchText([]byte(c.doc)); got != c.want {
			t.Errorf("SearchText(%s) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// TestPageDocsInChunks: a page whose ids span several doc queries comes out
// whole and in order, and the byte bound still ends it with a cursor.
func TestPageDocsInChunks(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	var rows []store.EventRow
	for i := range 25 {
		r := mkRow(t, base.Add(time.Duration(i/2)*time.Second), "org-a", "banking", fmt.Sprintf("msg %d", i))
		rows = append(rows, r)
	}
	if err := s.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	ref, err := s.QueryEvents(ctx, store.EventQuery{Limit: 30}) // one doc query
	if err != nil {
		t.Fatal(err)
	}
	restore := store.SetDocChunk(4)
	defer restore()
	page, err := s.QueryEvents(ctx, store.EventQuery{Limit: 30}) // seven
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(t, page), ids(t, ref); len(got) != 25 || page.Next != "" || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("in chunks: %d events, next %q, order %v; want 25 in order %v", len(got), page.Next, got, want)
	}
	size := len(page.Events[0])
	page, err = s.QueryEvents(ctx, store.EventQuery{Limit: 30, MaxBytes: size*6 + size/2})
	if err != nil || len(page.Events) != 6 || page.Next == "" {
		t.Fatalf("byte-bounded page: %d events, next %q, %v; want 6 and a cursor", len(page.Events), page.Next, err)
	}
}
