package collector

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// fakeRecords is a records handler that keeps what it is given.
type fakeRecords struct {
	mu       sync.Mutex
	handled  []ingest.Record
	rejected []string
	flushed  int
}

func (f *fakeRecords) handle(rec ingest.Record) (*ingest.Error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec.Data = append([]byte(nil), rec.Data...)
	f.handled = append(f.handled, rec)
	return nil, nil
}

func (f *fakeRecords) reject(_ ingest.Record, ie *ingest.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = append(f.rejected, ie.Reason)
}

func (f *fakeRecords) flush() { f.mu.Lock(); f.flushed++; f.mu.Unlock() }

func (f *fakeRecords) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.handled) + len(f.rejected)
}

// TestUDPListenerFeedsItsHandler: a listener needs no collector, only a
// records handler: each datagram becomes one record (framing bytes
// trimmed, the clock's time, the sender), an oversize one is rejected to
// the handler, an empty one is counted, and close flushes the handler.
func TestUDPListenerFeedsItsHandler(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	fr := &fakeRecords{}
	l := listener{
		cfg:  config.Input{Name: "udp", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog", MaxRecord: 16},
		log:  slog.New(slog.DiscardHandler),
		m:    newMetrics(prometheus.NewPedanticRegistry()),
		now:  func() time.Time { return at },
		open: func(context.Context) (records, error) { return fr, nil },
	}
	in, err := startUDP(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", in.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range []string{"<13>hello\r\n", "\x00\n", "<13>seventeen bytes"} {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	empty := l.m.rejected.WithLabelValues("udp", ingest.ReasonEmpty)
	for deadline := time.Now().Add(5 * time.Second); fr.count() < 2 || testutil.ToFloat64(empty) < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("handler got %d records, empty counted %v", fr.count(), testutil.ToFloat64(empty))
		}
	}
	if err := in.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if len(fr.handled) != 1 || string(fr.handled[0].Data) != "<13>hello" || !fr.handled[0].ReceivedAt.Equal(at) ||
		fr.handled[0].Peer != conn.LocalAddr().String() || fr.handled[0].Input != "udp" || fr.handled[0].Pipeline != "syslog" {
		t.Errorf("handled %+v", fr.handled)
	}
	if len(fr.rejected) != 1 || fr.rejected[0] != ingest.ReasonOversize {
		t.Errorf("rejected %v, want [oversize]", fr.rejected)
	}
	if fr.flushed != 1 {
		t.Errorf("flushed %d times at close, want 1", fr.flushed)
	}
	if got := testutil.ToFloat64(l.m.received.WithLabelValues("udp")); got != 2 {
		t.Errorf("received %v, want 2 (the oversize and the empty datagram; the handler counts the rest)", got)
	}
}
