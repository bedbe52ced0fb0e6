package demo_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/demo"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// TestDemoTimes runs the demo feed through the pipelines as the collectors of
// `kuzet run` do (zone Asia/Almaty): every event's @timestamp is within a
// second of its receive time, and comes from the record's own time.
func TestDemoTimes(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 23, 30, 1, 250e6, time.UTC) // after midnight in Almaty
	g := demo.NewGenerator(7, func() time.Time { return now })
	for i := 0; i < 200; i++ {
		rec := g.Next()
		st, err := set.NewStream(rec.Input, pipeline.StreamOptions{Location: almaty, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		var got *event.Event
		if err := st.Push(ingest.Record{Data: rec.Data, ReceivedAt: now}, func(ev *event.Event) error { got = ev; return nil }); err != nil {
			t.Fatalf("%s: %v", rec.Data, err)
		}
		if d := got.Timestamp.Sub(now); d < -time.Second || d > time.Second {
			t.Fatalf("%s: @timestamp %v is %v from received_at %v\n%s", got.Kuzet.SourceType, got.Timestamp, d, now, rec.Data)
		}
	}
}
