package collector_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// TestClockSkewCounted: events whose own time is more than the configured
// drift ahead of or behind the receive time are counted by input, device
// and direction; events within the drift, and events without a time of
// their own, are not.
func TestClockSkewCounted(t *testing.T) {
	sf, err := collector.DefaultStreams()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, sf, func(c *config.Collector) {
		c.ClockSkew = config.ClockSkew{Future: 5 * time.Minute, Past: time.Hour}
		c.Inputs = []config.Input{{Name: "sys", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog"}}
	})
	now := time.Now().UTC()
	u, err := net.Dial("udp", f.c.InputAddr("sys"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, r := range []struct {
		host string
		at   time.Time
	}{
		{"ems-01", now.Add(2 * time.Hour)},     // future
		{"ems-01", now.Add(-48 * time.Hour)},   // past
		{"nobody-01", now.Add(-3 * time.Hour)}, // past, unknown device
		{"ems-01", now.Add(time.Minute)},       // within the drift
		{"ems-01", now.Add(-30 * time.Minute)}, // within the drift
	} {
		fmt.Fprintf(u, "<13>1 %s %s app - - - skew test", r.at.Format(time.RFC3339Nano), r.host)
	}
	fmt.Fprint(u, "<13>no time at all")
	evs := f.waitEvents(t, 6)
	object := ""
	for _, ev := range evs {
		if ev.Host != nil && ev.Host.Name == "ems-01" {
			object = ev.Kuzet.Object
		}
	}
	if object == "" {
		t.Fatal("ems-01 is not a registry object of oisc-almaty")
	}
	metrics := scrape(t, f.c.OpsAddr())
	for _, want := range []string{
		`kuzet_collector_clock_skew_events_total{device="` + object + `",direction="future",input="sys"} 1`,
		`kuzet_collector_clock_skew_events_total{device="` + object + `",direction="past",input="sys"} 1`,
		`kuzet_collector_clock_skew_events_total{device="unknown",direction="past",input="sys"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if n := strings.Count(metrics, "kuzet_collector_clock_skew_events_total{"); n != 3 {
		t.Errorf("%d clock skew series, want 3:\n%s", n, metrics)
	}
}
