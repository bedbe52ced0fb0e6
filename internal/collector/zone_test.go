package collector_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
)

// TestDeviceZone: through the collector's inputs, pipelines and registry,
// a time without a zone is read in the zone of the registry object the
// event belongs to, else the input's, else the collector's; a zone in the
// record wins over them all.
func TestDeviceZone(t *testing.T) {
	sf, err := collector.DefaultStreams()
	if err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(t.TempDir(), "registry.yaml")
	if err := os.WriteFile(reg, []byte(`version: 1
centers: [{id: oisc-almaty, name: O, kind: oisc}]
organisations: [{id: org, name: Org, sectors: [banking]}]
objects:
  - {id: tokyo-branch, name: T, kind: server_room_dc, owner: org, sector: banking, criticality: 2, oisc: oisc-almaty, hostnames: [fw-tokyo], zone: Asia/Tokyo}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, sf, func(c *config.Collector) {
		c.RegistryFile = reg
		c.Zone = "Asia/Almaty"
		c.ClockSkew = config.ClockSkew{} // the records are days old
		c.Inputs = []config.Input{
			{Name: "utc", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog", Zone: "UTC"},
			{Name: "default", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog"},
		}
	})
	send := func(input, record string) {
		u, err := net.Dial("udp", f.c.InputAddr(input))
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		fmt.Fprint(u, record)
	}
	send("utc", "<13>Nov 24 2026 10:00:01 fw-tokyo app: device zone")
	send("utc", "<13>Nov 24 2026 10:00:01 fw-other app: input zone")
	send("default", "<13>Nov 24 2026 10:00:01 fw-other app: collector zone")
	send("utc", "<13>1 2026-11-24T10:00:01+05:00 fw-tokyo app - - - record zone")
	got := byMessage(f.waitEvents(t, 4))
	for msg, want := range map[string]struct {
		at             time.Time
		zone, timezone string
	}{
		"device zone":    {time.Date(2026, 11, 24, 1, 0, 1, 0, time.UTC), event.ZoneDevice, "Asia/Tokyo"},
		"input zone":     {time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC), event.ZoneInput, "UTC"},
		"collector zone": {time.Date(2026, 11, 24, 5, 0, 1, 0, time.UTC), event.ZoneCollector, "Asia/Almaty"},
		"record zone":    {time.Date(2026, 11, 24, 5, 0, 1, 0, time.UTC), event.ZoneRecord, ""},
	} {
		ev, ok := got[msg]
		if !ok {
			t.Errorf("%s: no event", msg)
			continue
		}
		if !ev.Timestamp.Equal(want.at) || ev.Kuzet.TimeZone != want.zone || ev.Event.Timezone != want.timezone {
			t.Errorf("%s: @timestamp %v, time_zone %q, event.timezone %q; want %v, %q, %q",
				msg, ev.Timestamp, ev.Kuzet.TimeZone, ev.Event.Timezone, want.at, want.zone, want.timezone)
		}
	}
	if ev := got["device zone"]; ev.Kuzet.Object != "tokyo-branch" {
		t.Errorf("device zone event enriched with %q", ev.Kuzet.Object)
	}
}
