package collector_test

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/demo"
)

// BenchmarkThroughput measures a collector end to end on a real JetStream:
// b.N syslog records of the demo feed (sshd, sudo, CEF, FortiGate) sent
// over one TCP connection, normalised by the syslog pipeline, enriched
// from the registry, spooled and published in batch envelopes. The clock
// stops when the events-published counter reaches b.N; events/s is the
// figure.
func BenchmarkThroughput(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		name := "spool"
		if fsync {
			name = "spool_fsync"
		}
		b.Run(name, func(b *testing.B) {
			s := bustest.Server(b)
			streams, err := collector.DefaultStreams()
			if err != nil {
				b.Fatal(err)
			}
			cfg := config.DefaultCollector()
			cfg.ID, cfg.OISC = "c1", "oisc-almaty"
			cfg.NATS.URL = s.ClientURL()
			cfg.DataDir = b.TempDir()
			cfg.SpoolFsync = fsync
			cfg.HTTP.Listen = "127.0.0.1:0"
			cfg.RegistryFile = filepath.Join(conformance.ModuleRoot(b), "configs", "registry.yaml")
			cfg.Inputs = []config.Input{{Name: "tcp", Type: config.InputTCP, Listen: "127.0.0.1:0", Pipeline: "syslog"}}
			reg := prometheus.NewRegistry()
			c, err := collector.New(collector.Options{Config: cfg, Streams: streams, Registerer: reg,
				Logger: slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = c.Stop(ctx)
			})
			var lines [][]byte
			gen := demo.NewGenerator(3, nil)
			for len(lines) < 4096 {
				if r := gen.Next(); r.Input == "syslog" {
					lines = append(lines, append(r.Data, '\n'))
				}
			}
			conn, err := net.Dial("tcp", c.InputAddr("tcp"))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			w := bufio.NewWriterSize(conn, 64<<10)
			published := func() int {
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				total := 0.0
				for _, mf := range mfs {
					if mf.GetName() == "kuzet_collector_events_published_total" {
						for _, m := range mf.GetMetric() {
							total += m.GetCounter().GetValue()
						}
					}
				}
				return int(total)
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := w.Write(lines[i%len(lines)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			deadline := time.Now().Add(5*time.Minute + time.Duration(b.N)*100*time.Microsecond)
			for published() < b.N {
				if time.Now().After(deadline) {
					b.Fatalf("published %d of %d events", published(), b.N)
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
