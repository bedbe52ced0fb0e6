package bus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/correlation"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
)

// ensureNCCStreams creates every stream an NCC creates, with its defaults.
func ensureNCCStreams(t *testing.T, maxStore int64) error {
	t.Helper()
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: t.TempDir(), MaxStore: maxStore})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	_, js := bustest.Connect(t, s)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		return err
	}
	for _, g := range []string{correlation.Group, grouping.Group, grouping.NationalGroup, grouping.OutboxGroup} {
		if err := bus.EnsureStageStream(ctx, js, g, bus.DefaultStageStreamOptions()); err != nil {
			return err
		}
	}
	return bus.EnsureNotifyStream(ctx, js, 1, 0)
}

// The server reserves each stream's MaxBytes; an NCC's streams fit
// NCCReservedBytes exactly, and a byte less fails with the reason and
// what to change.
func TestNCCStreamsFitTheirReservation(t *testing.T) {
	if err := ensureNCCStreams(t, bus.NCCReservedBytes); err != nil {
		t.Fatalf("streams do not fit NCCReservedBytes (%d): %v", bus.NCCReservedBytes, err)
	}
	err := ensureNCCStreams(t, bus.NCCReservedBytes-1)
	if err == nil {
		t.Fatal("streams fit a byte less than NCCReservedBytes: the constant overstates them")
	}
	if !strings.Contains(err.Error(), "max_file_store") || !strings.Contains(err.Error(), "insufficient storage") {
		t.Fatalf("error does not say what to change: %v", err)
	}
}
