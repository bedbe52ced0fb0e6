package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// BenchmarkInsertEvents measures InsertEvents per batch size, with the
// rollup materialized views of migration 15 (rollups=on) and with them
// dropped (rollups=off), so that the two differ only by the views' work at
// insert time. Compare with benchstat -col /rollups.
func BenchmarkInsertEvents(b *testing.B) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	batch := func(n int) []store.EventRow {
		rows := make([]store.EventRow, n)
		for i := range rows {
			t := at.Add(time.Duration(i) * time.Hour / time.Duration(n)) // an hour: 12 five-minute buckets
			ev := &event.Event{Timestamp: t, Message: fmt.Sprintf("Failed password for invalid user u%d from 45.155.205.%d port 52114 ssh2", i%50, i%250),
				Source: &event.Endpoint{IP: fmt.Sprintf("45.155.205.%d", i%250), Port: 52114}}
			if err := event.Stamp(ev, t, fmt.Sprint("c", i%4), fmt.Sprint("oisc-", i%2), "syslog"); err != nil {
				b.Fatal(err)
			}
			ev.Kuzet.Org, ev.Kuzet.Sector = fmt.Sprint("org-", i%8), []string{"banking", "electricity", "water_supply"}[i%3]
			ev.Kuzet.SourceType = "syslog"
			doc, err := event.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			r, err := store.NewEventRow(ev, doc)
			if err != nil {
				b.Fatal(err)
			}
			rows[i] = r
		}
		return rows
	}
	for _, rollups := range []string{"on", "off"} {
		b.Run("rollups="+rollups, func(b *testing.B) {
			st := storetest.Open(b)
			ctx := context.Background()
			if rollups == "off" {
				for _, v := range []string{"events_5m_mv", "alerts_1h_mv", "alert_entities_1d_mv"} {
					if err := st.Exec(ctx, "DROP TABLE IF EXISTS `"+st.Database()+"`.`"+v+"`"); err != nil {
						b.Fatal(err)
					}
				}
			}
			for _, n := range []int{100, 1000, 10000} {
				rows := batch(n)
				b.Run(fmt.Sprint("rows=", n), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if err := st.InsertEvents(ctx, rows); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
				})
			}
		})
	}
}
