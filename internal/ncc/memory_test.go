package ncc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

// liveHeap is the heap in use after a forced collection (this process: the
// ncc, the embedded NATS server and the test).
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// bigSyslog is a 65 KB syslog line, as a collector stores it: one
// message of mostly distinct text (it compresses as little as real logs).
func bigSyslog(t *testing.T, r *rand.Rand, i int) []byte {
	t.Helper()
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 =:/.-_" // 64
	msg := make([]byte, 65<<10)
	for j := 0; j < len(msg); {
		for u := r.Uint64(); u > 0 && j < len(msg); u >>= 6 { // ten letters a draw
			msg[j] = letters[u&63]
			j++
		}
	}
	ev := &event.Event{Timestamp: time.Now().UTC(), Message: fmt.Sprintf("line %d %s", i, msg)}
	ev.Event.Kind = "event"
	return marshalStamped(t, ev, "syslog")
}

// wideWinEvent is a Windows event with many fields (a process creation
// with a large event_data block), as the winevent pipeline leaves them.
func wideWinEvent(t *testing.T, r *rand.Rand, i int) []byte {
	t.Helper()
	data := make(map[string]any, 400)
	for k := range 400 {
		data[fmt.Sprintf("Field%03d", k)] = fmt.Sprintf("value-%d-%d-%x", i, k, r.Uint64())
	}
	ev := &event.Event{Timestamp: time.Now().UTC(), Message: "A new process has been created.",
		Winlog: map[string]any{"event_id": "4688", "channel": "Security", "provider_name": "Microsoft-Windows-Security-Auditing",
			"computer_name": fmt.Sprintf("ws-%d.corp.kz", i), "event_data": data}}
	ev.Event.Kind = "event"
	ev.Event.Category = []string{"process"}
	ev.Event.Action = "process-created"
	return marshalStamped(t, ev, "winevent")
}

func marshalStamped(t *testing.T, ev *event.Event, input string) []byte {
	t.Helper()
	if err := event.Stamp(ev, time.Now(), "c1", "oisc-a", input); err != nil {
		t.Fatal(err)
	}
	ev.Kuzet.Asset = event.AssetUnknown
	doc, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestMemoryBoundedAfterBurstOfLargeRecords sends a burst of large and wide
// records (2000 syslog lines of 65 KB, 1000 Windows events of 400 fields, in
// envelopes of at most 1 MiB as a collector makes them: about 150 MB of
// events), waits until they are stored and acked, and checks that the live
// heap is back under 300 MB and within twice the heap before the burst: the
// ncc keeps no reference to stored events or their envelopes.
func TestMemoryBoundedAfterBurstOfLargeRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 150 MB through NATS and ClickHouse")
	}
	// NATS runs in a process of its own, so that the heap measured here
	// is the ncc's (JetStream's block caches are not).
	srv := proctest.Start(t, "", proctest.Binary(t, "kuzet"), []string{"nats", "-port", "-1", "-store", t.TempDir(), "-max-store", fmt.Sprint(bustest.MaxStore)})
	if !srv.WaitOutput(20*time.Second, "nats nats://") {
		t.Fatalf("kuzet nats did not start:\n%s", srv.Output())
	}
	url := strings.Fields(srv.Output()[strings.Index(srv.Output(), "nats nats://"):])[1]
	f := newFixtureAt(t, url)
	cfg := f.cfg
	cfg.Store.Linger = 100 * time.Millisecond
	reg := prometheus.NewPedanticRegistry()
	start(t, cfg, reg)
	r := rand.New(rand.NewPCG(1, 2))

	seq := uint64(0)
	sent := 0
	// Each phase publishes on a connection of its own, closed before the
	// heap is measured: its write buffer, grown by 1 MB envelopes, is the
	// test's and not the ncc's.
	var pub *bus.Publisher
	var pubConn *nats.Conn
	connect := func() {
		t.Helper()
		var err error
		if pubConn, err = nats.Connect(url); err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(pubConn)
		if err != nil {
			t.Fatal(err)
		}
		pub = bus.NewPublisher(js, nil)
	}
	send := func(docs []json.RawMessage) {
		t.Helper()
		batch := &bus.Batch{ID: bus.BatchID("c1", seq), Collector: "c1", OISC: "oisc-a", CreatedAt: time.Now(), Events: docs}
		if _, err := pub.Publish(context.Background(), bus.EventsSubject("oisc-a", "c1"), batch); err != nil {
			t.Fatal(err)
		}
		seq++
		sent += len(docs)
	}
	waitStored := func(d time.Duration) {
		t.Helper()
		proctest.Eventually(t, d, func(ctx context.Context) error {
			n, _, err := f.stored(ctx)
			if err != nil {
				return err
			}
			if n != uint64(sent) {
				return fmt.Errorf("stored %d of %d", n, sent)
			}
			if a := find(reg, "kuzet_ncc_batches_acked_total", "", ""); a != float64(seq) {
				return fmt.Errorf("acked %v of %d envelopes", a, seq)
			}
			return nil
		})
	}

	// Idle: a few small events through every path first (connections,
	// pools and rules in use), then the heap at rest.
	connect()
	send([]json.RawMessage{wideWinEvent(t, r, -1), bigSyslog(t, r, -1)})
	pubConn.Close()
	waitStored(30 * time.Second)
	time.Sleep(300 * time.Millisecond)
	idle := liveHeap()

	// The peak is sampled for the record (README): it includes garbage
	// not yet collected, so it is logged, not checked.
	var peak, held atomic.Uint64
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-sampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			peak.Store(max(peak.Load(), ms.HeapAlloc))
			held.Store(max(held.Load(), uint64(find(reg, "kuzet_ncc_inflight_bytes", "", ""))))
		}
	}()
	began := time.Now()
	connect()
	const lines, wide = 2000, 1000
	var docs []json.RawMessage
	size := 0
	for i := range lines + wide {
		var d []byte
		if i%3 == 2 {
			d = wideWinEvent(t, r, i)
		} else {
			d = bigSyslog(t, r, i)
		}
		if size+len(d) > 1<<20 && len(docs) > 0 {
			send(docs)
			docs, size = nil, 0
		}
		docs, size = append(docs, d), size+len(d)
	}
	send(docs)
	docs = nil
	pubConn.Close()
	waitStored(60 * time.Second)
	took := time.Since(began)
	close(sampling)
	<-sampled
	time.Sleep(300 * time.Millisecond) // the ncc idles (linger passes)
	after := liveHeap()
	t.Logf("live heap: idle %.1f MB, after a burst of %d events in %d envelopes (%s) %.1f MB; peak heap (live and garbage) %.1f MB, envelopes held %.1f MB",
		float64(idle)/1e6, sent, seq, took.Round(time.Millisecond), float64(after)/1e6, float64(peak.Load())/1e6,
		float64(held.Load())/1e6)
	// The events barely compress, so an envelope counts about twice its
	// fetched bytes: the bound is max_inflight_bytes + fetch_max_bytes.
	if bound := uint64(cfg.Store.MaxInflightBytes + cfg.Consumer.FetchMaxBytes); held.Load() > bound {
		t.Errorf("kuzet_ncc_inflight_bytes reached %d; want at most %d", held.Load(), bound)
	}
	if after > 300<<20 || after > 2*idle {
		t.Errorf("live heap after the burst is %.1f MB; want under 300 MB and under twice the idle %.1f MB",
			float64(after)/1e6, float64(idle)/1e6)
	}
}

// TestByteLimitsBoundBatchesAndFetches publishes 30 envelopes of about
// 1 MB each and holds the writer on its first batch: the ncc must fetch no
// more than consumer.fetch_max_bytes at a time, cut each batch there
// (store.max_batch_bytes is smaller than one fetch), and fetch nothing more
// while the batch being written leaves less than a fetch under
// store.max_inflight_bytes. Then everything is stored and the bytes held
// go back to zero.
func TestByteLimitsBoundBatchesAndFetches(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(3, 4))
	const envelopes, per = 30, 15
	wire := 0
	for s := range envelopes {
		batch := &bus.Batch{ID: bus.BatchID("c1", uint64(s)), Collector: "c1", OISC: "oisc-a", CreatedAt: time.Now()}
		for i := range per {
			batch.Events = append(batch.Events, bigSyslog(t, r, s*per+i))
		}
		msg, err := bus.EncodeBatch(batch, true)
		if err != nil {
			t.Fatal(err)
		}
		wire = max(wire, len(msg.Data))
		if _, err := f.pub.Publish(context.Background(), bus.EventsSubject("oisc-a", "c1"), batch); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.cfg
	cfg.Consumer.FetchMaxBytes = config.MinFetchBytes
	cfg.Store.MaxBatchBytes = 2 << 20
	cfg.Store.MaxInflightBytes = cfg.Store.MaxBatchBytes + cfg.Consumer.FetchMaxBytes
	perFetch := int(cfg.Consumer.FetchMaxBytes) / wire // envelopes one fetch can bring

	var mu sync.Mutex
	var flushes []int
	release := make(chan struct{})
	var once sync.Once
	reg := prometheus.NewPedanticRegistry()
	start(t, cfg, reg, func(n *ncc.NCC) {
		n.SetAckHook(func(msgs []bus.Delivery) bool {
			mu.Lock()
			flushes = append(flushes, len(msgs))
			mu.Unlock()
			<-release // the first batch is written; its ack waits
			return true
		})
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the ncc stops
	cons, err := f.js.Consumer(context.Background(), bus.EventsStream, cfg.Consumer.Durable)
	if err != nil {
		t.Fatal(err)
	}
	proctest.Eventually(t, 20*time.Second, func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if len(flushes) == 0 {
			return fmt.Errorf("no batch written yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // time to fetch more, if the limits let it
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held := find(reg, "kuzet_ncc_inflight_bytes", "", "")
	once.Do(func() { close(release) })
	if info.NumAckPending > perFetch {
		t.Errorf("%d envelopes delivered while the first batch was written; want at most one fetch of %d (%d bytes of %d-byte envelopes)",
			info.NumAckPending, perFetch, cfg.Consumer.FetchMaxBytes, wire)
	}
	if held <= 0 || held > float64(cfg.Store.MaxInflightBytes)+float64(2*perFetch*wire) {
		t.Errorf("kuzet_ncc_inflight_bytes %v while a batch was written; want positive and at most max_inflight_bytes + a fetch", held)
	}
	proctest.Eventually(t, 40*time.Second, func(ctx context.Context) error {
		n, _, err := f.stored(ctx)
		if err != nil {
			return err
		}
		if n != envelopes*per {
			return fmt.Errorf("stored %d of %d", n, envelopes*per)
		}
		if a := find(reg, "kuzet_ncc_batches_acked_total", "", ""); a != envelopes {
			return fmt.Errorf("acked %v of %d", a, envelopes)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, m := range flushes {
		if m > perFetch {
			t.Errorf("batch %d held %d envelopes; want at most one fetch (%d)", i, m, perFetch)
		}
	}
	if held := find(reg, "kuzet_ncc_inflight_bytes", "", ""); held != 0 {
		t.Errorf("kuzet_ncc_inflight_bytes %v once everything is acked; want 0", held)
	}
}
