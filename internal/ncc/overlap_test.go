package ncc_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

// TestEventsStoredWhileBatchBeforeFinishes holds the acks of the first
// batch written and checks that the next batch's events are stored
// meanwhile (the writer inserts a batch's events while the batch before
// is finished: alerts, publishes, acks), and that once released every
// envelope is acked and every event stored once.
func TestEventsStoredWhileBatchBeforeFinishes(t *testing.T) {
	f := newFixture(t)
	first := f.publish(t, 1, 2, 50)
	release := make(chan struct{})
	var calls atomic.Int32
	start(t, f.cfg, prometheus.NewRegistry(), func(n *ncc.NCC) {
		n.SetAckHook(func([]bus.Delivery) bool {
			if calls.Add(1) == 1 {
				<-release
			}
			return true
		})
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		d, _, err := f.stored(ctx)
		if err != nil {
			return err
		}
		if d != uint64(len(first)) || calls.Load() != 1 {
			return fmt.Errorf("%d of %d stored, %d acks begun", d, len(first), calls.Load())
		}
		return nil
	})
	second := f.publish(t, 3, 2, 50)
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		d, _, err := f.stored(ctx)
		if err != nil {
			return err
		}
		if want := uint64(len(first) + len(second)); d != want {
			return fmt.Errorf("%d of %d stored while the first batch's acks wait", d, want)
		}
		return nil
	})
	if c := calls.Load(); c != 1 {
		t.Fatalf("%d acks begun while the first batch's wait; want 1 (acks in batch order)", c)
	}
	close(release)
	cons, err := f.js.Consumer(context.Background(), bus.EventsStream, f.cfg.Consumer.Durable)
	if err != nil {
		t.Fatal(err)
	}
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumAckPending != 0 || info.NumPending != 0 || calls.Load() < 2 {
			return fmt.Errorf("%d envelopes unacked, %d undelivered, %d acks", info.NumAckPending, info.NumPending, calls.Load())
		}
		return nil
	})
	d, rows, err := f.stored(context.Background())
	if err != nil || d != uint64(len(first)+len(second)) || rows != d {
		t.Fatalf("%d events stored in %d rows (%v); want %d in as many rows", d, rows, err, len(first)+len(second))
	}
}
