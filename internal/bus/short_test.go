package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
)

// TestShortFetchesLoseNothing: fetches whose wait ends while the server is
// still sending hand out every envelope, each delivered once.
func TestShortFetchesLoseNothing(t *testing.T) {
	ctx := context.Background()
	_, js := bustest.Connect(t, bustest.Server(t))
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	c, err := bus.EnsureConsumer(ctx, js, bus.ConsumerOptions{Stream: bus.EventsStream, Durable: "short", MaxAckPending: 1000, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// A backlog the server hands out faster than a short fetch lasts: a
	// fetch ended by its context while messages were in flight lost them
	// until AckWait (a minute) ran out.
	const n = 5000
	p := bus.NewPublisher(js, nil)
	for i := uint64(1); i <= n; i++ {
		if _, err := p.Publish(ctx, bus.EventsSubject("oisc-a", "c1"), batch(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		ds, err := c.Fetch(ctx, 1000, 64<<20, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			b, err := bus.DecodeBatch(d.Headers(), d.Data())
			if err != nil {
				t.Fatal(err)
			}
			if d.NumDelivered() != 1 {
				t.Errorf("%s delivered %d times", b.ID, d.NumDelivered())
			}
			seen[b.ID] = true
			_ = d.Ack()
		}
	}
	if len(seen) != n {
		t.Errorf("received %d of %d envelopes", len(seen), n)
	}
}
