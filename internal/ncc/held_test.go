package ncc

import (
	"testing"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestHeldResetKeepsNoReferences: a reused batch keeps its backing arrays
// but no element of them (an element past len still pins an event and its
// envelope body), and drops an array that grew past the bound.
func TestHeldResetKeepsNoReferences(t *testing.T) {
	h := &held{bytes: 5 << 20}
	for range 4 {
		h.rows = append(h.rows, store.EventRow{Ev: &event.Event{}, Doc: make([]byte, 1<<10)})
		h.alerts = append(h.alerts, alert.Alert{RuleID: "r", EventIDs: []string{"x"}})
	}
	rows := h.rows[:cap(h.rows)]
	h.reset(100)
	if len(h.rows) != 0 || cap(h.rows) != cap(rows) || h.bytes != 0 || len(h.alerts) != 0 {
		t.Fatalf("reset: %d rows (cap %d, was %d), %d bytes, %d alerts", len(h.rows), cap(h.rows), cap(rows), h.bytes, len(h.alerts))
	}
	for i, r := range rows {
		if r.Ev != nil || r.Doc != nil {
			t.Errorf("row %d still refers to its event after reset", i)
		}
	}
	for i, a := range h.alerts[:cap(h.alerts)] {
		if a.EventIDs != nil {
			t.Errorf("alert %d still refers to its event ids after reset", i)
		}
	}
	h.rows = make([]store.EventRow, 101)
	h.reset(100)
	if h.rows != nil {
		t.Errorf("a batch grown to %d rows kept its array after reset (bound 100)", 101)
	}
}
