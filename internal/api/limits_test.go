package api

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// TestLimiterQueues: a key runs at most its share of queries at once and
// the server at most the global number; the rest wait in a bounded queue,
// are served in turn as slots free, and are refused when the queue is full
// or after the queue timeout.
func TestLimiterQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(config.APILimits{MaxConcurrentQueries: 3, MaxConcurrentQueriesPerKey: 2, MaxQueuedQueries: 2,
			QueueTimeout: 10 * time.Second, RatePerKey: 1, BurstPerKey: 1}, time.Now)
		ctx := context.Background()
		a1, _, err := l.acquire(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		a2, _, _ := l.acquire(ctx, "a")
		got := make(chan error, 4)
		go func() { // a's third query waits for a's slot
			rel, waited, err := l.acquire(ctx, "a")
			if err == nil {
				if !waited {
					err = errors.New("third query of a did not wait")
				}
				rel()
			}
			got <- err
		}()
		synctest.Wait()
		if l.waiting() != 1 {
			t.Fatalf("%d waiting, want 1", l.waiting())
		}
		b1, waited, err := l.acquire(ctx, "b") // the last global slot
		if err != nil || waited {
			t.Fatalf("b: waited %v, %v", waited, err)
		}
		go func() { // b waits for a global slot
			rel, _, err := l.acquire(ctx, "b")
			if err == nil {
				rel()
			}
			got <- err
		}()
		synctest.Wait()
		if _, _, err := l.acquire(ctx, "c"); !errors.Is(err, errQueueFull) {
			t.Fatalf("third waiter: %v, want errQueueFull", err)
		}
		a1()
		a1() // release is idempotent
		synctest.Wait()
		// a's waiter took a's slot and a global one, then released both;
		// b's waiter followed.
		for range 2 {
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		}
		a2()
		b1()
		// All three slots free; a waiter past the queue timeout is refused.
		hold := make([]func(), 0, 3)
		for _, k := range []string{"a", "a", "b"} {
			rel, _, err := l.acquire(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			hold = append(hold, rel)
		}
		start := time.Now()
		if _, _, err := l.acquire(ctx, "c"); !errors.Is(err, errQueueTimeout) || time.Since(start) != 10*time.Second {
			t.Fatalf("after %s: %v, want errQueueTimeout after 10s", time.Since(start), err)
		}
		for _, rel := range hold {
			rel()
		}
	})
}

func TestLimiterRate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(config.APILimits{MaxConcurrentQueries: 1, MaxConcurrentQueriesPerKey: 1, QueueTimeout: time.Second,
		RatePerKey: 4, BurstPerKey: 2}, func() time.Time { return now })
	for _, c := range []struct {
		advance time.Duration
		ok      bool
		wait    time.Duration
	}{{0, true, 0}, {0, true, 0}, {0, false, 250 * time.Millisecond}, {100 * time.Millisecond, false, 150 * time.Millisecond},
		{150 * time.Millisecond, true, 0}, {time.Hour, true, 0}, {0, true, 0}, {0, false, 250 * time.Millisecond}} {
		now = now.Add(c.advance)
		ok, wait := l.allow("k")
		if ok != c.ok || (wait-c.wait).Abs() > time.Millisecond {
			t.Errorf("after +%s: allow %v wait %s, want %v %s", c.advance, ok, wait, c.ok, c.wait)
		}
	}
}
