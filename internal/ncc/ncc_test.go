package ncc_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

type fixture struct {
	js  jetstream.JetStream
	pub *bus.Publisher
	cfg config.NCC
	st  *store.Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, bustest.Server(t).ClientURL())
}

// newFixtureAt is newFixture with the NATS server at url.
func newFixtureAt(t testing.TB, url string) *fixture {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultNCC()
	cfg.NATS.URL = url
	cfg.ClickHouse = storetest.Config(t)
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Store.Linger = 200 * time.Millisecond
	cfg.Consumer.AckWait = 5 * time.Second
	cfg.Digests.Disabled = true // the schedule has tests of its own (digests_test.go)
	st, err := store.Open(context.Background(), cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := bus.EnsureStreams(context.Background(), js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	return &fixture{js: js, pub: bus.NewPublisher(js, nil), cfg: cfg, st: st}
}

// publish sends n batches of m events each and returns the event ids.
func (f *fixture) publish(t *testing.T, seq0, n, m int) []string {
	t.Helper()
	var ids []string
	for b := 0; b < n; b++ {
		batch := &bus.Batch{ID: bus.BatchID("c1", uint64(seq0+b)), Collector: "c1", OISC: "oisc-a", CreatedAt: time.Now()}
		for i := 0; i < m; i++ {
			ev := &event.Event{Timestamp: time.Now().UTC(), Message: fmt.Sprintf("event %d/%d", b, i)}
			if err := event.Stamp(ev, time.Now(), "c1", "oisc-a", "test"); err != nil {
				t.Fatal(err)
			}
			ev.Kuzet.Asset = event.AssetUnknown
			doc, _ := event.Marshal(ev)
			batch.Events = append(batch.Events, doc)
			ids = append(ids, ev.Kuzet.EventID)
		}
		if _, err := f.pub.Publish(context.Background(), bus.EventsSubject("oisc-a", "c1"), batch); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// start creates and starts an ncc, stopped when the test ends; before
// Start, setup may install test hooks.
func start(t testing.TB, cfg config.NCC, reg prometheus.Registerer, setup ...func(*ncc.NCC)) *ncc.NCC {
	t.Helper()
	n, err := ncc.New(ncc.Options{Config: cfg, Registerer: reg, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(n)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	return n
}

func (f *fixture) stored(ctx context.Context) (distinct, rows uint64, err error) {
	distinct, err = f.st.CountEvents(ctx, store.EventQuery{})
	if err != nil {
		return 0, 0, err
	}
	// rows without FINAL: what the table physically holds before merging.
	var n uint64
	err = f.st.QueryRowScan(ctx, "SELECT count() FROM "+f.st.Table("events"), &n)
	return distinct, n, err
}

func TestStoresAndAcks(t *testing.T) {
	f := newFixture(t)
	ids := f.publish(t, 1, 20, 50)
	reg := prometheus.NewPedanticRegistry()
	n := start(t, f.cfg, reg)
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		d, _, err := f.stored(ctx)
		if err != nil {
			return err
		}
		if d != uint64(len(ids)) {
			return fmt.Errorf("%d of %d stored", d, len(ids))
		}
		return nil
	})
	proctest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if got := testutil.ToFloat64(gauge(reg, "kuzet_ncc_batches_acked_total")); got != 20 {
			return fmt.Errorf("acked %v", got)
		}
		return nil
	})
	if !n.Ready() {
		t.Error("not ready")
	}
	// Every stored event is one of those published, byte for byte.
	page, err := f.st.QueryEvents(context.Background(), store.EventQuery{Limit: 5})
	if err != nil || len(page.Events) != 5 {
		t.Fatal(err)
	}
	var ev event.Event
	if err := json.Unmarshal(page.Events[0], &ev); err != nil || !contains(ids, ev.Kuzet.EventID) {
		t.Errorf("stored event %v not published: %v", ev.Kuzet.EventID, err)
	}
}

func TestRedeliveryAfterLostAckShowsNoDuplicate(t *testing.T) {
	f := newFixture(t)
	ids := f.publish(t, 1, 4, 25)
	n, err := ncc.New(ncc.Options{Config: f.cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Int32
	n.SetAckHook(func(msgs []bus.Delivery) bool {
		// Lose the acks of the first flush: its events are in ClickHouse,
		// JetStream redelivers its messages after AckWait.
		return !lost.CompareAndSwap(0, int32(len(msgs)))
	})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	}()
	ctx := context.Background()
	// Redelivered and inserted again: the table physically holds more rows
	// than events, and exact queries still see each event once.
	proctest.Eventually(t, 40*time.Second, func(ctx context.Context) error {
		d, rows, err := f.stored(ctx)
		if err != nil {
			return err
		}
		want := uint64(len(ids))
		if lost.Load() == 0 || d != want || rows <= want {
			return fmt.Errorf("distinct %d rows %d, want %d distinct and a redelivered copy (lost %d)", d, rows, want, lost.Load())
		}
		return nil
	})
	seen := map[string]int{}
	q := store.EventQuery{Limit: 30}
	for {
		page, err := f.st.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Events {
			var ev event.Event
			_ = json.Unmarshal(raw, &ev)
			seen[ev.Kuzet.EventID]++
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if len(seen) != len(ids) {
		t.Errorf("query shows %d events, want %d", len(seen), len(ids))
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s shown %d times", id, c)
		}
	}
}

func TestNotReadyAndNoAckWhileClickHouseDown(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"} // nothing listens
	cfg.ClickHouse.DialTimeout = 300 * time.Millisecond
	cfg.Store.MaxBackoff = 500 * time.Millisecond
	f.publish(t, 1, 3, 10)
	reg := prometheus.NewPedanticRegistry()
	n := start(t, cfg, reg)
	time.Sleep(2 * time.Second)
	if n.Ready() {
		t.Error("ready without ClickHouse")
	}
	if got := testutil.ToFloat64(gauge(reg, "kuzet_ncc_batches_acked_total")); got != 0 {
		t.Errorf("acked %v without ClickHouse", got)
	}
	if got := testutil.ToFloat64(gauge(reg, "kuzet_ncc_store_up")); got != 0 {
		t.Errorf("store_up %v", got)
	}
	cons, err := f.js.Consumer(context.Background(), bus.EventsStream, cfg.Consumer.Durable)
	if err == nil {
		info, _ := cons.Info(context.Background())
		if info != nil && info.AckFloor.Stream != 0 {
			t.Errorf("ack floor moved to %d", info.AckFloor.Stream)
		}
	}
}

func TestBadEnvelopeRejected(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewPedanticRegistry()
	start(t, f.cfg, reg)
	if _, err := f.js.Publish(context.Background(), bus.EventsSubject("oisc-a", "c1"), []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	// An S2 body that says it decompresses past bus.MaxDecoded.
	bomb := nats.NewMsg(bus.EventsSubject("oisc-a", "c1"))
	bomb.Header.Set(bus.HeaderSchema, bus.SchemaHeader)
	bomb.Header.Set(bus.HeaderEncoding, "s2")
	bomb.Data = append(binary.AppendUvarint(nil, bus.MaxDecoded+1), "not really s2"...)
	if _, err := f.js.PublishMsg(context.Background(), bomb); err != nil {
		t.Fatal(err)
	}
	ids := f.publish(t, 10, 1, 3)
	proctest.Eventually(t, 20*time.Second, func(ctx context.Context) error {
		if got := testutil.ToFloat64(counterVec(reg, "kuzet_ncc_rejected_total", "reason", "bad_envelope")); got != 1 {
			return fmt.Errorf("rejected %v", got)
		}
		if got := testutil.ToFloat64(counterVec(reg, "kuzet_ncc_rejected_total", "reason", "envelope_too_large")); got != 1 {
			return fmt.Errorf("rejected as too large %v", got)
		}
		d, _, err := f.stored(ctx)
		if err != nil || d != uint64(len(ids)) {
			return fmt.Errorf("stored %d, %v", d, err)
		}
		return nil
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// A panic in detection (an engine bug some event reaches) must not crash
// the ncc, or it would crash again on every redelivery: the event is
// stored without alerts and counted.
func TestDetectionPanicStoresEventWithoutAlerts(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewPedanticRegistry()
	start(t, f.cfg, reg, func(n *ncc.NCC) {
		n.SetDetectHook(func(ev *event.Event) {
			if ev.Message == "event 1/3" {
				panic("engine bug")
			}
		})
	})
	ids := f.publish(t, 1, 2, 5)
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if got := testutil.ToFloat64(gauge(reg, "kuzet_ncc_batches_acked_total")); got != 2 {
			return fmt.Errorf("acked %v", got)
		}
		return nil
	})
	if d, _, err := f.stored(context.Background()); err != nil || d != uint64(len(ids)) {
		t.Fatalf("stored %d of %d: %v", d, len(ids), err)
	}
	if got := testutil.ToFloat64(gauge(reg, "kuzet_ncc_detect_errors_total")); got != 1 {
		t.Fatalf("detect errors %v, want 1", got)
	}
}

// TestStreamLimitsFromConfig: the events stream takes nats.events_max_age
// and events_max_bytes (the alerts stream an eighth of the bytes), also
// when it exists already, and the ncc exports how full both are.
func TestStreamLimitsFromConfig(t *testing.T) {
	f := newFixture(t)
	f.publish(t, 1, 5, 10)
	f.cfg.NATS.EventsMaxAge, f.cfg.NATS.EventsMaxBytes = 48*time.Hour, 256<<20
	reg := prometheus.NewPedanticRegistry()
	start(t, f.cfg, reg)
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if got := find(reg, "kuzet_stream_max_bytes", "stream", bus.EventsStream); got != 256<<20 {
			return fmt.Errorf("events max bytes %v", got)
		}
		if got := find(reg, "kuzet_stream_max_bytes", "stream", bus.AlertsStream); got != 32<<20 {
			return fmt.Errorf("alerts max bytes %v", got)
		}
		if got := find(reg, "kuzet_stream_bytes", "stream", bus.EventsStream); got <= 0 {
			return fmt.Errorf("events stream bytes %v, want the 5 batches'", got)
		}
		return nil
	})
	st, err := f.js.Stream(context.Background(), bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil || info.Config.MaxAge != 48*time.Hour || info.Config.MaxBytes != 256<<20 {
		t.Errorf("events stream config %+v, %v; want 48h and 256 MiB", info.Config, err)
	}
}

// TestBatchClosesAtItsLinger: a batch is written once its first envelope
// has waited about store.linger, not about twice that. A fetch used to
// wait the whole linger for envelopes, and the batch's age was counted
// only once that fetch ended.
func TestBatchClosesAtItsLinger(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Store.Linger = 3 * time.Second
	cfg.Consumer.AckWait = 10 * time.Second
	reg := prometheus.NewPedanticRegistry()
	start(t, cfg, reg)
	proctest.Eventually(t, 30*time.Second, func(context.Context) error {
		if up := testutil.ToFloat64(gauge(reg, "kuzet_ncc_store_up")); up != 1 {
			return fmt.Errorf("store_up %v", up)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // the loop's first fetch is waiting
	published := time.Now()
	ids := f.publish(t, 1, 1, 10)
	var waited time.Duration
	for {
		d, _, err := f.stored(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d == uint64(len(ids)) {
			waited = time.Since(published)
			break
		}
		if time.Since(published) > 20*time.Second {
			t.Fatalf("%d of %d stored after 20 s", d, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The batch's age counts from the start of the fetch that brought it,
	// at most a quarter linger before the envelope arrived; the INSERT adds
	// a little. Before: the linger, less 300 ms, then the linger again.
	lo, hi := cfg.Store.Linger*3/4, cfg.Store.Linger*3/2
	if waited < lo || waited > hi {
		t.Errorf("stored %v after publishing, want within [%v, %v] (linger %v)", waited.Round(time.Millisecond), lo, hi, cfg.Store.Linger)
	}
}
