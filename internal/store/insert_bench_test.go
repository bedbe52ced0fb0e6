package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// BenchmarkInsertEvents measures InsertEvents per batch size, with the
// rollup materialized views of migration 15 (rollups=on) and with them
// dropped (rollups=off), so that the two differ only by the views' work at
// insert time: the wall time per event and the CPU time the ClickHouse
// server (a private one) spent per event, which a busy machine disturbs
// less. Each run inserts into a fresh database; run a fixed count
// (-benchtime=20x) so that every run makes as many parts. Compare with
// benchstat -col /rollups.
func BenchmarkInsertEvents(b *testing.B) {
	// An hour of events: 12 five-minute buckets of the rollups.
	batch := func(n int) []store.EventRow { return benchRows(b, n, time.Hour, false) }
	srv := privateServer(b)
	for _, rollups := range []string{"on", "off"} {
		b.Run("rollups="+rollups, func(b *testing.B) {
			for _, n := range []int{100, 1000, 10000} {
				rows := batch(n)
				b.Run(fmt.Sprint("rows=", n), func(b *testing.B) {
					// A database of its own for every run, so that parts
					// and merges from earlier runs do not slow this one.
					ctx := context.Background()
					cfg := config.DefaultClickHouse()
					cfg.Addr, cfg.Database = []string{srv.Addr()}, fmt.Sprintf("bench_%s_%d_%d", rollups, n, time.Now().UnixNano())
					st := storetest.OpenWith(b, cfg)
					if rollups == "off" {
						for _, v := range []string{"events_5m_mv", "alerts_1h_mv", "alert_entities_1d_mv"} {
							if err := st.Exec(ctx, "DROP TABLE IF EXISTS `"+st.Database()+"`.`"+v+"`"); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.ReportAllocs()
					var cpu0 time.Duration
					for b.Loop() {
						if cpu0 == 0 {
							cpu0 = cpuTime(b, srv.PID())
						}
						if err := st.InsertEvents(ctx, rows); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
					// The server's CPU time depends less on what else the
					// machine runs than the wall time does.
					b.ReportMetric(float64((cpuTime(b, srv.PID())-cpu0).Nanoseconds())/float64(b.N*n), "server-cpu-ns/event")
				})
			}
		})
	}
}

// privateServer starts a ClickHouse server of the benchmark's own (its CPU
// time is then the benchmark's inserts' and their merges'), killed when
// the benchmark ends; skipped without clickhouse-server.
func privateServer(b *testing.B) *chlocal.Server {
	bin, err := chlocal.Find()
	if err != nil {
		b.Skip(err)
	}
	srv, err := chlocal.Start(context.Background(), chlocal.Options{Binary: bin, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Kill)
	return srv
}

// benchRows makes n sshd events over span from 2026-11-24 10:00 UTC, from
// 4 collectors, 2 OISCs, 8 organisations and 3 sectors; with original,
// each keeps an RFC 5424 record as event.original.
func benchRows(b *testing.B, n int, span time.Duration, original bool) []store.EventRow {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rows := make([]store.EventRow, n)
	for i := range rows {
		t := at.Add(time.Duration(i) * span / time.Duration(n))
		ev := &event.Event{Timestamp: t, Message: fmt.Sprintf("Failed password for invalid user u%d from 45.155.205.%d port 52114 ssh2", i%50, i%250),
			Source: &event.Endpoint{IP: fmt.Sprintf("45.155.205.%d", i%250), Port: 52114}}
		if err := event.Stamp(ev, t, fmt.Sprint("c", i%4), fmt.Sprint("oisc-", i%2), "syslog"); err != nil {
			b.Fatal(err)
		}
		ev.Kuzet.Org, ev.Kuzet.Sector = fmt.Sprint("org-", i%8), []string{"banking", "electricity", "water_supply"}[i%3]
		ev.Kuzet.SourceType = "syslog"
		if original {
			ev.Event.Original = fmt.Sprintf(`<38>1 %s host-%d sshd %d - [kzlg@1 id="%d"] %s`, t.Format(time.RFC3339Nano), i%40, 1000+i, i, ev.Message)
		}
		doc, err := event.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		if rows[i], err = store.NewEventRow(ev, doc); err != nil {
			b.Fatal(err)
		}
	}
	return rows
}

// cpuTime is the user and system CPU time of process pid so far.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skip("no /proc: ", err)
	}
	// The fields after the command (in parentheses): utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// BenchmarkInsertCompression measures InsertEvents of 10,000 rows with the
// native protocol's blocks compressed (lz4) and not (none), on a private
// server on this host: the client's CPU time (this process) and the
// server's per event. Compare with benchstat -col /compression.
func BenchmarkInsertCompression(b *testing.B) {
	rows := benchRows(b, 10000, 10*time.Second, true)
	srv := privateServer(b)
	for _, c := range []string{config.CompressionLZ4, config.CompressionNone} {
		b.Run("compression="+c, func(b *testing.B) {
			ctx := context.Background()
			cfg := config.DefaultClickHouse()
			cfg.Addr, cfg.Database, cfg.Compression = []string{srv.Addr()}, fmt.Sprintf("bench_%s_%d", c, time.Now().UnixNano()), c
			st := storetest.OpenWith(b, cfg)
			var cpu0, self0 time.Duration
			for b.Loop() {
				if cpu0 == 0 {
					cpu0, self0 = cpuTime(b, srv.PID()), cpuTime(b, os.Getpid())
				}
				if err := st.InsertEvents(ctx, rows); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N * len(rows))
			b.ReportMetric(float64((cpuTime(b, os.Getpid())-self0).Nanoseconds())/n, "client-cpu-ns/event")
			b.ReportMetric(float64((cpuTime(b, srv.PID())-cpu0).Nanoseconds())/n, "server-cpu-ns/event")
		})
	}
}
