package ncc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/demo"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// demoDocs normalises n records of the demo feed (syslog, CEF, FortiGate,
// Windows and Sysmon events) into event documents, as a collector would.
func demoDocs(tb testing.TB, n int) []json.RawMessage {
	tb.Helper()
	set, err := pipeline.Default()
	if err != nil {
		tb.Fatal(err)
	}
	streams := map[string]*pipeline.Stream{}
	gen := demo.NewGenerator(7, nil)
	docs := make([]json.RawMessage, 0, n)
	for len(docs) < n {
		rec := gen.Next()
		st := streams[rec.Input]
		if st == nil {
			if st, err = set.NewStream(rec.Input, pipeline.StreamOptions{}); err != nil {
				tb.Fatal(err)
			}
			streams[rec.Input] = st
		}
		now := time.Now()
		err := st.Push(ingest.Record{Data: rec.Data, ReceivedAt: now}, func(ev *event.Event) error {
			if err := event.Stamp(ev, now, "c1", rec.OISC, rec.Input); err != nil {
				return err
			}
			doc, err := event.Marshal(ev)
			docs = append(docs, doc)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return docs
}

// BenchmarkThroughput measures the aggregator on real servers: b.N demo
// events already in JetStream (batches of 500) are fetched, decoded, run
// through the builtin Sigma rules and stored in ClickHouse; with
// correlation (signals published, windows applied) and incidents (alerts
// grouped) on or off. The clock runs
// from the ncc's start until a query counts all of them stored; events/s
// is the figure. Needs ClickHouse (make bench starts one).
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"store", "store+detect", "store+detect+correlate", "all"} {
		b.Run(mode, func(b *testing.B) {
			const per = 500
			docs := demoDocs(b, b.N)
			f := newFixture(b)
			for i, seq := 0, uint64(0); i < len(docs); i, seq = i+per, seq+1 {
				batch := &bus.Batch{ID: bus.BatchID("c1", seq), Collector: "c1", OISC: "oisc-a", CreatedAt: time.Now(),
					Events: docs[i:min(i+per, len(docs))]}
				if _, err := f.pub.Publish(context.Background(), bus.EventsSubject("oisc-a", "c1"), batch); err != nil {
					b.Fatal(err)
				}
			}
			// Tables made before the clock starts: the ncc's own migration
			// finds them current.
			if err := f.st.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			cfg := f.cfg
			cfg.Rules.Disabled = mode == "store"
			// Correlation and incidents run beside the store path: the
			// figure shows what they cost it on the same cores.
			cfg.Correlation.Disabled = mode == "store" || mode == "store+detect"
			cfg.Incidents.Disabled = mode != "all"
			cfg.Store.Linger = 100 * time.Millisecond
			b.ResetTimer()
			start(b, cfg, prometheus.NewRegistry())
			deadline := time.Now().Add(10*time.Minute + time.Duration(b.N)*time.Millisecond)
			for {
				n, _, err := f.stored(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if n == uint64(b.N) {
					break
				}
				if n > uint64(b.N) || time.Now().After(deadline) {
					b.Fatalf("stored %d of %d events", n, b.N)
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkDecodeEvents measures what the ncc does to each event before
// detection, on one core and without servers: the event's JSON decoded
// (maps and typed fields) and its row made (id parsed, search text).
func BenchmarkDecodeEvents(b *testing.B) {
	docs := demoDocs(b, 2000)
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	b.SetBytes(int64(size / len(docs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		raw := docs[i%len(docs)]
		i++
		ev, _, err := event.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.NewEventRow(ev, raw); err != nil {
			b.Fatal(err)
		}
	}
}
