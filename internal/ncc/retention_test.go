package ncc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/store"
)

// fakeRetention records the runs (the store's part has its own test over
// ClickHouse: TestRetentionDropsExactlyThePartitionsPastThePolicy).
type fakeRetention struct {
	mu   sync.Mutex
	runs []time.Time
	fail int
}

func (f *fakeRetention) ApplyRetention(_ context.Context, p store.RetentionPolicy, now time.Time) ([]store.Partition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, now)
	if f.fail > 0 {
		f.fail--
		return nil, errors.New("clickhouse away")
	}
	return []store.Partition{{Table: "events", Partition: "20200101"}}, nil
}

func (f *fakeRetention) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.runs)
}

// TestRetentionSchedule: nothing before the ncc is ready; then a run at
// once, and one a day; a failure is retried after a minute; the drops
// are counted by table.
func TestRetentionSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRetention{fail: 1}
		reg := prometheus.NewRegistry()
		r := newRetention(f, store.RetentionPolicy{Events: time.Hour, Alerts: time.Hour}, 24*time.Hour, time.Now,
			slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
		var ready sync.Mutex
		isReady := false
		r.ready = func() bool { ready.Lock(); defer ready.Unlock(); return isReady }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.run(ctx); close(done) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := f.count(); n != 0 {
			t.Fatalf("%d runs before ready", n)
		}
		ready.Lock()
		isReady = true
		ready.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := f.count(); n != 1 {
			t.Fatalf("%d runs once ready, want 1 (failed)", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := f.count(); n != 2 {
			t.Fatalf("%d runs a minute after the failure, want 2", n)
		}
		time.Sleep(23 * time.Hour)
		synctest.Wait()
		if n := f.count(); n != 2 {
			t.Fatalf("%d runs before the day is over, want 2", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := f.count(); n != 3 {
			t.Fatalf("%d runs after a day, want 3", n)
		}
		if got := testutil.ToFloat64(r.dropped.WithLabelValues("events")); got != 2 {
			t.Errorf("dropped events partitions counted %v, want 2", got)
		}
		if ok, bad := testutil.ToFloat64(r.runs.WithLabelValues("ok")), testutil.ToFloat64(r.runs.WithLabelValues("error")); ok != 2 || bad != 1 {
			t.Errorf("runs ok %v error %v", ok, bad)
		}
		cancel()
		<-done
	})
}
