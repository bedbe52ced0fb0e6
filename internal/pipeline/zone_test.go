package pipeline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// normalise runs one record through a pipeline with the stream's zone
// (input) and a device zone for the events whose observer or host is
// "dev-1"; it returns the event and how often the device zone was asked.
func normalise(t *testing.T, name, record string, input, device *time.Location, source string) (*event.Event, int) {
	t.Helper()
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	opts := pipeline.StreamOptions{Location: input, ZoneSource: source,
		Now: func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) }}
	if device != nil {
		opts.DeviceZone = func(ev *event.Event) *time.Location {
			asked++
			if (ev.Observer != nil && ev.Observer.Hostname == "dev-1") || (ev.Host != nil && ev.Host.Name == "dev-1") {
				return device
			}
			return nil
		}
	}
	st, err := set.NewStream(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got *event.Event
	rec := ingest.Record{Data: []byte(record), ReceivedAt: time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)}
	if err := st.Push(rec, func(ev *event.Event) error { got = ev; return nil }); err != nil {
		t.Fatalf("%s: %v", record, err)
	}
	return got, asked
}

// TestDeviceZone: a time the record gives without a zone is read in the
// device's (registry object's) zone when it has one, else the input's; a
// zone in the record wins over both. kuzet.time_zone says which applied
// and event.timezone names an assumed zone.
func TestDeviceZone(t *testing.T) {
	tokyo, almaty := mustZone(t, "Asia/Tokyo"), mustZone(t, "Asia/Almaty")
	utc := time.UTC
	for _, c := range []struct {
		name, pipeline, record string
		input, device          *time.Location
		source                 string
		want                   time.Time
		zone, timezone         string
	}{
		{"CEF rt without a zone, device in Tokyo", "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=Nov 24 2026 10:00:01",
			utc, tokyo, "", time.Date(2026, 11, 24, 1, 0, 1, 0, utc), event.ZoneDevice, "Asia/Tokyo"},
		{"CEF rt with milliseconds, device in Tokyo", "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=Nov 24 2026 10:00:01.250",
			utc, tokyo, "", time.Date(2026, 11, 24, 1, 0, 1, 25e7, utc), event.ZoneDevice, "Asia/Tokyo"},
		{"CEF rt with its zone", "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=Nov 24 2026 10:00:01 UTC",
			utc, tokyo, "", time.Date(2026, 11, 24, 10, 0, 1, 0, utc), event.ZoneRecord, ""},
		{"CEF rt in the record's dtz", "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 dtz=Europe/Berlin rt=Nov 24 2026 10:00:01",
			utc, tokyo, "", time.Date(2026, 11, 24, 9, 0, 1, 0, utc), event.ZoneRecord, "Europe/Berlin"},
		{"CEF rt as epoch milliseconds", "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=1795521601000",
			utc, tokyo, "", time.UnixMilli(1795521601000), event.ZoneRecord, ""},
		{"CEF rt without a zone, no device matched", "cef", "CEF:0|V|P|1|100|n|5|dvchost=other rt=Nov 24 2026 10:00:01",
			utc, tokyo, "", time.Date(2026, 11, 24, 10, 0, 1, 0, utc), event.ZoneInput, "UTC"},
		{"CEF rt without a zone, the collector's default", "cef", "CEF:0|V|P|1|100|n|5|dvchost=other rt=Nov 24 2026 10:00:01",
			almaty, tokyo, event.ZoneCollector, time.Date(2026, 11, 24, 5, 0, 1, 0, utc), event.ZoneCollector, "Asia/Almaty"},
		{"CEF in RFC 3164 syslog without rt", "cef", "<132>Nov 24 10:00:01 dev-1 CEF:0|V|P|1|100|n|5|src=10.0.0.1",
			almaty, tokyo, "", time.Date(2026, 11, 24, 1, 0, 1, 0, utc), event.ZoneDevice, "Asia/Tokyo"},
		{"RFC 3164 syslog, device in Tokyo", "syslog", "<38>Nov 24 10:00:01 dev-1 sshd[1]: Accepted publickey for root",
			almaty, tokyo, "", time.Date(2026, 11, 24, 1, 0, 1, 0, utc), event.ZoneDevice, "Asia/Tokyo"},
		{"RFC 3164 syslog, no device zone", "syslog", "<38>Nov 24 10:00:01 dev-1 sshd[1]: Accepted publickey for root",
			almaty, nil, "", time.Date(2026, 11, 24, 5, 0, 1, 0, utc), event.ZoneInput, "Asia/Almaty"},
		{"RFC 5424 syslog with an offset", "syslog", "<38>1 2026-11-24T10:00:01+05:00 dev-1 sshd 1 - - x",
			almaty, tokyo, "", time.Date(2026, 11, 24, 5, 0, 1, 0, utc), event.ZoneRecord, ""},
		{"LEEF devTime without a zone", "leef", "<13>Nov 24 10:00:01 dev-1 LEEF:1.0|V|P|1|E|src=10.0.0.1\tdevTime=Nov 24 2026 11:00:01",
			almaty, tokyo, "", time.Date(2026, 11, 24, 2, 0, 1, 0, utc), event.ZoneDevice, "Asia/Tokyo"},
		{"FortiGate date and time without tz", "fortigate", `<189>Nov 24 10:00:01 dev-1 date=2026-11-24 time=10:00:01 devname="FG" type="traffic"`,
			almaty, tokyo, "", time.Date(2026, 11, 24, 1, 0, 1, 0, utc), event.ZoneDevice, "Asia/Tokyo"},
		{"FortiGate date and time with tz", "fortigate", `<189>Nov 24 10:00:01 dev-1 date=2026-11-24 time=10:00:01 tz="+0500" type="traffic"`,
			almaty, tokyo, "", time.Date(2026, 11, 24, 5, 0, 1, 0, utc), event.ZoneRecord, "+0500"},
		{"FortiGate eventtime", "fortigate", `<189>Nov 24 10:00:01 dev-1 date=2026-11-24 time=10:00:01 eventtime=1795521601 type="traffic"`,
			almaty, tokyo, "", time.Unix(1795521601, 0), event.ZoneRecord, ""},
		{"NXLog EventTime without a zone", "winevent", `{"EventTime":"2026-11-24 10:00:01","Computer":"dev-1","EventID":4625,"Channel":"Security"}`,
			almaty, tokyo, "", time.Date(2026, 11, 24, 1, 0, 1, 0, utc), event.ZoneDevice, "Asia/Tokyo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, _ := normalise(t, c.pipeline, c.record, c.input, c.device, c.source)
			if !ev.Timestamp.Equal(c.want) || ev.Kuzet.TimeSource != event.TimeEvent || ev.Kuzet.TimeZone != c.zone || ev.Event.Timezone != c.timezone {
				t.Errorf("@timestamp %v (%s), time_zone %q, event.timezone %q; want %v, %q, %q",
					ev.Timestamp, ev.Kuzet.TimeSource, ev.Kuzet.TimeZone, ev.Event.Timezone, c.want.UTC(), c.zone, c.timezone)
			}
		})
	}
}

// CEF start and end without a zone move with @timestamp to the device's
// zone; the device zone is asked once per event, and only for an event
// with a time without a zone.
func TestDeviceZoneStartEnd(t *testing.T) {
	tokyo := mustZone(t, "Asia/Tokyo")
	ev, asked := normalise(t, "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=1795521601000 start=Nov 24 2026 09:59:00 end=Nov 24 2026 10:00:00",
		time.UTC, tokyo, "")
	if asked != 1 || ev.Event.Start == nil || ev.Event.End == nil ||
		!ev.Event.Start.Equal(time.Date(2026, 11, 24, 0, 59, 0, 0, time.UTC)) || !ev.Event.End.Equal(time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("asked %d, start %v, end %v", asked, ev.Event.Start, ev.Event.End)
	}
	// @timestamp is the record's epoch: its zone is the record's.
	if ev.Kuzet.TimeZone != event.ZoneRecord || ev.Event.Timezone != "" {
		t.Errorf("time_zone %q, event.timezone %q", ev.Kuzet.TimeZone, ev.Event.Timezone)
	}
	if _, asked := normalise(t, "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=1795521601000", time.UTC, tokyo, ""); asked != 0 {
		t.Errorf("device zone asked %d times for an event whose times have zones", asked)
	}
}

// A wall clock the device's zone skips or repeats (a DST change) is read
// as time.Date reads it, the same as a stream in that zone would.
func TestDeviceZoneDST(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, wall := range []string{"Mar 08 2026 02:30:00", "Nov 01 2026 01:30:00", "Jul 01 2026 12:00:00"} {
		viaDevice, _ := normalise(t, "cef", "CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt="+wall, time.UTC, ny, "")
		viaInput, _ := normalise(t, "cef", "CEF:0|V|P|1|100|n|5|dvchost=other rt="+wall, ny, ny, "")
		if !viaDevice.Timestamp.Equal(viaInput.Timestamp) {
			t.Errorf("%s: device zone gives %v, the same zone as the input's %v", wall, viaDevice.Timestamp, viaInput.Timestamp)
		}
	}
}

// kuzet parse --explain names the zone that read @timestamp.
func TestExplainZone(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	var origins []pipeline.Origin
	st, err := set.NewStream("cef", pipeline.StreamOptions{Location: time.UTC,
		DeviceZone: func(*event.Event) *time.Location { return mustZone(t, "Asia/Tokyo") },
		Explain:    func(_ *event.Event, o []pipeline.Origin) { origins = o }})
	if err != nil {
		t.Fatal(err)
	}
	rec := ingest.Record{Data: []byte("CEF:0|V|P|1|100|n|5|dvchost=dev-1 rt=Nov 24 2026 10:00:01"), ReceivedAt: time.Now()}
	if err := st.Push(rec, func(*event.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	by := map[string]string{}
	for _, o := range origins {
		by[o.Field] = o.By
	}
	for _, f := range []string{"@timestamp", "kuzet.time_zone", "event.timezone"} {
		if !strings.Contains(by[f], "the device's: Asia/Tokyo") {
			t.Errorf("%s set by %q", f, by[f])
		}
	}
}
