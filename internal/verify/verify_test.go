package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
	"github.com/kuzet-kz/kuzet/internal/verify"
)

func TestCompare(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	dir := t.TempDir()
	var journal strings.Builder
	var rows []store.EventRow
	var lost uuid.UUID
	for i := 0; i < 10; i++ {
		ev := &event.Event{Timestamp: time.Now().UTC()}
		_ = event.Stamp(ev, time.Now(), "c1", "oisc-a", "t")
		ev.Kuzet.Asset = event.AssetUnknown
		journal.WriteString(ev.Kuzet.EventID + "\n")
		if i == 3 {
			lost = uuid.MustParse(ev.Kuzet.EventID)
			continue // accepted, never stored
		}
		doc, _ := event.Marshal(ev)
		r, _ := store.NewEventRow(ev, doc)
		rows = append(rows, r)
	}
	// The same event stored under two received_at values: two rows even for
	// FINAL, which exact queries would show twice.
	dup := rows[0]
	ev2 := *dup.Ev
	ev2.Kuzet.ReceivedAt = ev2.Kuzet.ReceivedAt.Add(-48 * time.Hour)
	doc2, _ := event.Marshal(&ev2)
	rows = append(rows, store.EventRow{ID: dup.ID, Ev: &ev2, Doc: doc2})
	if err := st.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	journal.WriteString("torn-line-after-a-cra")
	if err := os.MkdirAll(filepath.Join(dir, "c1"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c1", "accepted.ids"), []byte(journal.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	ids, collectors, err := verify.ReadJournals([]string{dir})
	if err != nil || len(ids) != 10 || len(collectors) != 1 || collectors[0] != "c1" {
		t.Fatalf("journals: %d ids, %v, %v", len(ids), collectors, err)
	}
	rep, err := verify.Compare(ctx, st, ids, collectors)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 10 || rep.Stored != 9 || len(rep.Lost) != 1 || rep.Lost[0] != lost ||
		len(rep.Duplicated) != 1 || rep.Duplicated[0] != dup.ID || rep.OK() {
		t.Errorf("report %+v", rep)
	}
	var out strings.Builder
	rep.Print(&out)
	if !strings.Contains(out.String(), "lost 1\nduplicated 1") {
		t.Errorf("printed:\n%s", out.String())
	}
}
