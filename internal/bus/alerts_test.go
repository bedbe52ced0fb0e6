package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
)

// TestAlertPublisherWindowsAndDedup: more alerts than MaxInFlight are all
// stored once, publishing them again stores nothing new, and a subject no
// stream captures fails after the configured attempts.
func TestAlertPublisherWindowsAndDedup(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	alerts := make([]alert.Alert, 600)
	for i := range alerts {
		alerts[i] = alert.Alert{ID: alert.ID("r1", fmt.Sprint(i)), RuleID: "r1", OISC: "oisc-a", Sector: []string{"energy", ""}[i%2]}
	}
	p := bus.NewAlertPublisher(js, bus.AlertPublisherOptions{MaxInFlight: 64})
	for range 2 {
		if err := p.Publish(ctx, alerts); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.Stream(ctx, bus.AlertsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 600 {
		t.Errorf("alerts stream holds %d messages, want 600", info.State.Msgs)
	}
	if err := js.DeleteStream(ctx, bus.AlertsStream); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	p = bus.NewAlertPublisher(js, bus.AlertPublisherOptions{Attempts: 3, Backoff: 20 * time.Millisecond, AckTimeout: 2 * time.Second})
	if err := p.Publish(ctx, alerts[:3]); err == nil {
		t.Fatal("publishing with no alerts stream succeeded")
	}
	if took := time.Since(began); took < 60*time.Millisecond {
		t.Errorf("failed after %v: no retry with backoff (20ms, then 40ms)", took)
	}
}
