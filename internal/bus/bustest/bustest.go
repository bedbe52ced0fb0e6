// Package bustest runs an embedded NATS server with JetStream for tests, on a
// random loopback port with its store in the test's temporary directory, and
// stops it when the test ends.
package bustest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
)

// MaxStore is the file storage limit of the tests' servers: what an NCC's
// streams reserve (bus.NCCReservedBytes) and 1 GiB more, whatever the disk
// has free, so that a stream the budget does not account for fails a test
// here, not on a smaller machine. Tests that run `kuzet nats` pass it as
// -max-store.
const MaxStore = bus.NCCReservedBytes + 1<<30

// Server starts a server for the test, with MaxStore.
func Server(tb testing.TB) *natsserver.Server {
	tb.Helper()
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: tb.TempDir(), MaxStore: MaxStore})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	return s
}

// Connect connects to s and returns the connection and a JetStream context,
// both closed when the test ends.
func Connect(tb testing.TB, s *natsserver.Server) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// Events decodes a stored envelope into its events; a malformed envelope or
// event fails the test.
func Events(tb testing.TB, h nats.Header, data []byte) []event.Event {
	tb.Helper()
	b, err := bus.DecodeBatch(h, data)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]event.Event, 0, len(b.Events))
	for _, raw := range b.Events {
		var ev event.Event
		if err := event.Unmarshal(raw, &ev); err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}
