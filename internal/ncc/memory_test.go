package ncc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/event"
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
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 =:/."
	msg := make([]byte, 65<<10)
	for j := range msg {
		msg[j] = letters[r.IntN(len(letters))]
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
	nats := proctest.Start(t, "", proctest.Binary(t, "kuzet"), []string{"nats", "-port", "-1", "-store", t.TempDir()})
	if !nats.WaitOutput(20*time.Second, "nats nats://") {
		t.Fatalf("kuzet nats did not start:\n%s", nats.Output())
	}
	url := strings.Fields(nats.Output()[strings.Index(nats.Output(), "nats nats://"):])[1]
	f := newFixtureAt(t, url)
	cfg := f.cfg
	cfg.Store.Linger = 100 * time.Millisecond
	reg := prometheus.NewPedanticRegistry()
	start(t, cfg, reg)
	r := rand.New(rand.NewPCG(1, 2))

	seq := uint64(0)
	sent := 0
	send := func(docs []json.RawMessage) {
		t.Helper()
		batch := &bus.Batch{ID: bus.BatchID("c1", seq), Collector: "c1", OISC: "oisc-a", CreatedAt: time.Now(), Events: docs}
		if _, err := f.pub.Publish(context.Background(), bus.EventsSubject("oisc-a", "c1"), batch); err != nil {
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
	send([]json.RawMessage{wideWinEvent(t, r, -1), bigSyslog(t, r, -1)})
	waitStored(30 * time.Second)
	time.Sleep(300 * time.Millisecond)
	idle := liveHeap()

	began := time.Now()
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
	waitStored(60 * time.Second)
	time.Sleep(300 * time.Millisecond) // the ncc idles (linger passes)
	after := liveHeap()
	t.Logf("live heap: idle %.1f MB, after a burst of %d events in %d envelopes (%s) %.1f MB",
		float64(idle)/1e6, sent, seq, time.Since(began).Round(time.Millisecond), float64(after)/1e6)
	if after > 300<<20 || after > 2*idle {
		t.Errorf("live heap after the burst is %.1f MB; want under 300 MB and under twice the idle %.1f MB",
			float64(after)/1e6, float64(idle)/1e6)
	}
}
