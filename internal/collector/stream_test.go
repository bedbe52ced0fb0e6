package collector_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// TestStreamAccounting sends records that look like octet counts, NULs in
// lines, octet-counted and NUL-framed connections over a real TCP input,
// and finds every record exactly once in JetStream: as an event or as a
// counted, quarantined rejection. Nothing is swallowed, nothing merged.
func TestStreamAccounting(t *testing.T) {
	f := newFixture(t, nil)
	addr := f.c.InputAddr("tcp")
	send := func(payload string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, payload); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	n := 0
	var lf strings.Builder
	for i := range 1600 {
		switch i % 8 {
		case 0:
			fmt.Fprintf(&lf, "70000 bytes transferred r=%d\n", n)
		case 1:
			fmt.Fprintf(&lf, "0 errors found r=%d\n", n)
		case 2:
			fmt.Fprintf(&lf, "150 OK m0 r=%d\n", n)
		case 3:
			fmt.Fprintf(&lf, "ems-01|nul\x00cbs-db-01|inside r=%d\n", n)
		case 4:
			fmt.Fprintf(&lf, "123456789 <13>ems-01|nine digits r=%d\n", n)
		default:
			fmt.Fprintf(&lf, "ems-01|plain r=%d\n", n)
		}
		n++
	}
	send(lf.String())
	var oct strings.Builder
	for range 200 {
		m := fmt.Sprintf("<13>ems-01|octet\nwith LF r=%d", n)
		fmt.Fprintf(&oct, "%d %s", len(m), m)
		n++
	}
	send(oct.String())
	var nul strings.Builder
	for range 200 {
		fmt.Fprintf(&nul, "ems-01|nul framed r=%d\x00", n)
		n++
	}
	send(nul.String())

	evs := f.waitEvents(t, n)
	time.Sleep(200 * time.Millisecond) // a merged or split record would add events
	evs = f.events(t)
	tag := regexp.MustCompile(`r=\d+`)
	seen := map[string]int{}
	quarantined := 0
	for _, ev := range evs {
		text := ev.Message
		if ev.Event.Kind == "pipeline_error" {
			text = ev.Event.Original
			quarantined++
		}
		tags := tag.FindAllString(text, -1)
		if len(tags) != 1 {
			t.Errorf("event with %d records: %q", len(tags), text)
		}
		for _, s := range tags {
			seen[s]++
		}
		if ev.Kuzet.Object == "cbs-bank" || strings.HasPrefix(text, "cbs-db-01") {
			t.Errorf("the tail of a line became an event of its own: %+v", ev)
		}
	}
	for i := range n {
		if c := seen[fmt.Sprintf("r=%d", i)]; c != 1 {
			t.Errorf("record r=%d found %d times", i, c)
		}
	}
	if len(evs) != n {
		t.Errorf("%d events for %d records", len(evs), n)
	}
	metrics := scrape(t, f.c.OpsAddr())
	if got := metricSum(metrics, `kuzet_collector_events_accepted_total{`); got != float64(n) {
		t.Errorf("%v events accepted (quarantined included), want %d", got, n)
	}
	for _, want := range []string{
		fmt.Sprintf(`kuzet_collector_records_received_total{input="tcp"} %d`, n),
		fmt.Sprintf(`kuzet_collector_records_rejected_total{input="tcp",reason="syntax"} %d`, quarantined),
		fmt.Sprintf(`kuzet_collector_records_quarantined_total{input="tcp",reason="syntax"} %d`, quarantined),
	} {
		if !strings.Contains(metrics, want) {
			name, _, _ := strings.Cut(want, "{")
			t.Errorf("metrics lack %s; have:\n%s", want, grepLines(metrics, name))
		}
	}
}

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestStreamIdleTimeoutAndLimits(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	f := newFixture(t, func(c *config.Collector) {
		c.Inputs = append(c.Inputs,
			config.Input{Name: "idle", Type: config.InputTCP, Listen: "127.0.0.1:0", Pipeline: "test", IdleTimeout: 300 * time.Millisecond},
			config.Input{Name: "idle-tls", Type: config.InputTLS, Listen: "127.0.0.1:0", Pipeline: "test",
				TLSCert: certFile, TLSKey: keyFile, IdleTimeout: 300 * time.Millisecond},
			config.Input{Name: "perip", Type: config.InputTCP, Listen: "127.0.0.1:0", Pipeline: "test", MaxConnsPerIP: 2},
			config.Input{Name: "max", Type: config.InputTCP, Listen: "127.0.0.1:0", Pipeline: "test", MaxConns: 2})
	})
	dial := func(input string) net.Conn {
		c, err := net.Dial("tcp", f.c.InputAddr(input))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Idle: a sender that goes quiet after a record, and a TLS client that
	// never handshakes, are closed after the idle timeout; the record is kept.
	quiet, mute := dial("idle"), dial("idle-tls")
	fmt.Fprint(quiet, "ems-01|before idle\nems-01|partial")
	if !closedWithin(quiet, 3*time.Second) || !closedWithin(mute, 3*time.Second) {
		t.Error("idle connections still open after the idle timeout")
	}
	// An active sender is not cut: it writes more often than the timeout.
	busy := dial("idle")
	for i := range 5 {
		time.Sleep(100 * time.Millisecond)
		fmt.Fprintf(busy, "ems-01|busy %d\n", i)
	}
	if closedWithin(busy, 50*time.Millisecond) {
		t.Error("an active connection was closed")
	}
	// Limits: the third connection from one address, and the third of an
	// input with max_conns 2, are refused; the first two stay usable.
	p1, p2, p3 := dial("perip"), dial("perip"), dial("perip")
	m1, m2, m3 := dial("max"), dial("max"), dial("max")
	if !closedWithin(p3, 2*time.Second) || !closedWithin(m3, 2*time.Second) {
		t.Error("a connection over the limits was not refused")
	}
	for _, c := range []net.Conn{p1, p2, m1, m2} {
		if closedWithin(c, 50*time.Millisecond) {
			t.Error("a connection within the limits was closed")
		}
	}
	fmt.Fprint(p1, "ems-01|within limits\n")
	p1.Close()
	got := byMessage(f.waitEvents(t, 8))
	for _, m := range []string{"before idle", "partial", "busy 4", "within limits"} {
		if _, ok := got[m]; !ok {
			t.Errorf("record %q lost", m)
		}
	}
	metrics := scrape(t, f.c.OpsAddr())
	// The busy connection may have gone idle by now too.
	if got := metricSum(metrics, `kuzet_collector_connections_closed_total{input="idle",reason="idle_timeout"}`); got < 1 {
		t.Errorf("%v idle_timeout closes on input idle, want at least 1", got)
	}
	for _, want := range []string{
		`kuzet_collector_connections_closed_total{input="idle-tls",reason="idle_timeout"} 1`,
		`kuzet_collector_connections_refused_total{input="perip",reason="max_conns_per_ip"} 1`,
		`kuzet_collector_connections_refused_total{input="max",reason="max_conns"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			name, _, _ := strings.Cut(want, "{")
			t.Errorf("metrics lack %s; have:\n%s", want, grepLines(metrics, name))
		}
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metricSum adds the values of the samples whose line starts with prefix.
func metricSum(text, prefix string) float64 {
	sum := 0.0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}

// TestUDPEmptyDatagramsCounted: datagrams of only NUL, CR or LF bytes are
// received and rejected as empty, not silently ignored.
func TestUDPEmptyDatagramsCounted(t *testing.T) {
	f := newFixture(t, nil)
	u, err := net.Dial("udp", f.c.InputAddr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, d := range []string{"\x00", "\r\n", "\n\n\x00", "ems-01|after empty"} {
		if _, err := u.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	f.waitEvents(t, 1)
	metrics := scrape(t, f.c.OpsAddr())
	for _, want := range []string{
		`kuzet_collector_records_received_total{input="udp"} 4`,
		`kuzet_collector_records_rejected_total{input="udp",reason="empty"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			name, _, _ := strings.Cut(want, "{")
			t.Errorf("metrics lack %s; have:\n%s", want, grepLines(metrics, name))
		}
	}
}

// TestSyslogLineWithoutPRIStaysAnEvent: over TCP with the syslog pipeline,
// a line without a PRI, also one that starts with a number, is an event
// (RFC 3164 4.3.3), not a rejection.
func TestSyslogLineWithoutPRIStaysAnEvent(t *testing.T) {
	sf, err := collector.DefaultStreams()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, sf, func(c *config.Collector) {
		c.Inputs[0].Pipeline, c.Inputs[1].Pipeline, c.Inputs[2].Pipeline = "syslog", "syslog", "ndjson"
	})
	c, err := net.Dial("tcp", f.c.InputAddr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"70000 bytes transferred", "Nov 24 10:00:01 ems-01 sshd[1]: no pri", "0 errors found"}
	fmt.Fprint(c, strings.Join(lines, "\n")+"\n")
	c.Close()
	evs := f.waitEvents(t, len(lines))
	if len(evs) != len(lines) {
		t.Fatalf("%d events for %d lines", len(evs), len(lines))
	}
	for _, ev := range evs {
		if ev.Event.Kind == "pipeline_error" || !slices.Contains(lines, ev.Event.Original) {
			t.Errorf("kind %s, original %q", ev.Event.Kind, ev.Event.Original)
		}
	}
}
