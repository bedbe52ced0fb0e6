package syslog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/syslog"
)

var almaty = time.FixedZone("+05", 5*3600)

func parse(t *testing.T, s string, now time.Time) syslog.Message {
	t.Helper()
	m, err := syslog.Parse([]byte(s), syslog.Options{Location: almaty, Now: now})
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return m
}

func TestRFC5424Examples(t *testing.T) {
	now := time.Now()
	// RFC 5424 section 6.5, examples 1 to 4.
	m := parse(t, "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8", now)
	if m.Format != syslog.RFC5424 || m.Priority != 34 || m.Facility() != 4 || m.Severity() != 2 || m.Version != 1 ||
		!m.Timestamp.Equal(time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC)) || m.Hostname != "mymachine.example.com" ||
		m.AppName != "su" || m.ProcID != "" || m.MsgID != "ID47" || !m.BOM || m.Msg != "'su root' failed for lonvick on /dev/pts/8" {
		t.Errorf("example 1: %+v", m)
	}
	m = parse(t, "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.", now)
	if !m.Timestamp.Equal(time.Date(2003, 8, 24, 12, 14, 15, 3000, time.UTC)) || m.Hostname != "192.0.2.1" || m.ProcID != "8710" ||
		m.MsgID != "" || m.Msg != "%% It's time to make the do-nuts." || m.BOM {
		t.Errorf("example 2: %+v", m)
	}
	m = parse(t, `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] `+"\xef\xbb\xbfAn application event log entry...", now)
	if len(m.SD) != 1 || m.SD[0].ID != "exampleSDID@32473" || len(m.SD[0].Params) != 3 || m.SD[0].Params[1] != (syslog.Param{"eventSource", "Application"}) ||
		m.Msg != "An application event log entry..." {
		t.Errorf("example 3: %+v", m)
	}
	m = parse(t, `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`, now)
	if len(m.SD) != 2 || m.SD[1].Params[0].Value != "high" || m.Msg != "" {
		t.Errorf("example 4: %+v", m)
	}
	// Escapes in PARAM-VALUE, all-nil header.
	m = parse(t, `<13>1 - - - - - [x@1 a="q\"u\\o\]te" b="c\d"] msg`, now)
	if m.SD[0].Params[0].Value != `q"u\o]te` || m.SD[0].Params[1].Value != `c\d` || !m.Timestamp.IsZero() || m.Hostname != "" {
		t.Errorf("escapes: %+v", m.SD)
	}
}

func TestRFC3164Variations(t *testing.T) {
	jan := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	nov := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in                  string
		now                 time.Time
		ts                  time.Time
		host, app, pid, msg string
		pri                 int
	}{
		// RFC 3164 section 5.4 examples.
		{"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", nov,
			time.Date(2026, 10, 11, 22, 14, 15, 0, almaty), "mymachine", "su", "", "'su root' failed for lonvick on /dev/pts/8", 34},
		{"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", jan,
			time.Date(2026, 2, 5, 17, 32, 18, 0, almaty), "10.0.0.99", "", "", "Use the BFG!", 13},
		// A December record received in January belongs to last year.
		{"<86>Dec 31 23:59:59 cbs-db-01 sshd[4123]: Accepted publickey for root", jan,
			time.Date(2025, 12, 31, 23, 59, 59, 0, almaty), "cbs-db-01", "sshd", "4123", "Accepted publickey for root", 86},
		// No host name.
		{"<38>Nov 24 10:00:01 sshd[77]: Connection closed", nov,
			time.Date(2026, 11, 24, 10, 0, 1, 0, almaty), "", "sshd", "77", "Connection closed", 38},
		// No priority.
		{"Nov 24 10:00:01 fw1 kernel: DROP IN=eth0", nov,
			time.Date(2026, 11, 24, 10, 0, 1, 0, almaty), "fw1", "kernel", "", "DROP IN=eth0", -1},
		// ISO 8601 timestamp with offset (rsyslog's RSYSLOG_ForwardFormat).
		{"<30>2026-11-24T10:00:01.123456+05:00 egov-web-01 nginx: GET /", nov,
			time.Date(2026, 11, 24, 5, 0, 1, 123456000, time.UTC), "egov-web-01", "nginx", "", "GET /", 30},
		// ISO 8601 without an offset: the zone is Options.Location.
		{"<30>2026-11-24 10:00:01 sw2 app: x", nov,
			time.Date(2026, 11, 24, 10, 0, 1, 0, almaty), "sw2", "app", "", "x", 30},
		// Date with a year.
		{"<30>Nov 24 2025 10:00:01 sw1 mgmt: saved", nov,
			time.Date(2025, 11, 24, 10, 0, 1, 0, almaty), "sw1", "mgmt", "", "saved", 30},
		// Cisco IOS: sequence number, '*', milliseconds, zone, ':' and a mnemonic.
		{"<189>123: *Nov 24 10:00:01.123 UTC: %SYS-5-CONFIG_I: Configured from console by vty0", nov,
			time.Date(2026, 11, 24, 10, 0, 1, 123e6, time.UTC), "", "%SYS-5-CONFIG_I", "", "Configured from console by vty0", 189},
		// Cisco with the host before the time.
		{"<187>45: rtr-core-1: Nov 24 10:00:02.5: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down", nov,
			time.Date(2026, 11, 24, 10, 0, 2, 5e8, almaty), "rtr-core-1", "%LINK-3-UPDOWN", "", "Interface Gi0/1, changed state to down", 187},
		// Nothing but text.
		{"just a line from a script", nov, time.Time{}, "just", "", "", "a line from a script", -1},
	} {
		m := parse(t, c.in, c.now)
		if m.Format != syslog.RFC3164 || !m.Timestamp.Equal(c.ts) || m.Hostname != c.host || m.AppName != c.app ||
			m.ProcID != c.pid || m.Msg != c.msg || m.Priority != c.pri {
			t.Errorf("%q:\n got %v host=%q app=%q pid=%q msg=%q pri=%d\nwant %v host=%q app=%q pid=%q msg=%q pri=%d",
				c.in, m.Timestamp, m.Hostname, m.AppName, m.ProcID, m.Msg, m.Priority, c.ts, c.host, c.app, c.pid, c.msg, c.pri)
		}
		// A time without a zone (the cases above read in Almaty) says so.
		if local := c.ts.Location() == almaty; m.LocalTime != local {
			t.Errorf("%q: LocalTime = %v, want %v", c.in, m.LocalTime, local)
		}
	}
}

func TestMalformed(t *testing.T) {
	for in, reason := range map[string]string{
		"":                                      ingest.ReasonEmpty,
		"\n\r\x00":                              ingest.ReasonEmpty,
		"<":                                     ingest.ReasonSyntax,
		"<1234>x":                               ingest.ReasonSyntax,
		"<192>Nov 24 x":                         ingest.ReasonSyntax,
		"<ab>x":                                 ingest.ReasonSyntax,
		"<013>x":                                ingest.ReasonSyntax,
		"<13>1 2026-13-45T99:00:00Z h a p m -":  ingest.ReasonSyntax,
		"<13>1 -":                               ingest.ReasonTruncated,
		"<13>1 - h a p":                         ingest.ReasonTruncated,
		`<13>1 - h a p m [x@1 a="unterminated]`: ingest.ReasonSyntax,
		`<13>1 - h a p m [x@1 a=b]`:             ingest.ReasonSyntax,
		`<13>1 - h a p m garbage`:               ingest.ReasonSyntax,
		"<13>1 - " + strings.Repeat("h", 300) + " a p m -": ingest.ReasonSyntax,
	} {
		_, err := syslog.Parse([]byte(in), syslog.Options{})
		if err == nil || ingest.ReasonOf(err) != reason {
			t.Errorf("Parse(%q) = %v, want reason %s", in, err, reason)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed",
		`<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [a@1 b="c\"d"][e@2 f="g"] msg`,
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"<189>123: *Nov 24 10:00:01.123 UTC: %SYS-5-CONFIG_I: Configured",
		"<30>2026-11-24T10:00:01.123456+05:00 egov-web-01 nginx: GET /",
		"Nov 24 2025 10:00:01 sw1 mgmt: saved", "<0>", "<191>1 - - - - - -",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := syslog.Parse(data, syslog.Options{Now: now})
		if err != nil {
			var ie *ingest.Error
			if !errorsAs(err, &ie) || ie.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if m.Priority > 191 || m.Priority < -1 {
			t.Fatalf("priority %d", m.Priority)
		}
		if len(m.Msg) > len(data) {
			t.Fatalf("message longer than the input")
		}
	})
}

var benchLines = map[string]string{
	"rfc5424": `<165>1 2026-11-24T10:00:01.003Z cbs-db-01.core.qazbank.example sshd 4123 ID47 [origin@32473 ip="10.10.4.21" software="openssh"] Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2`,
	"rfc3164": "<86>Nov 24 10:00:01 cbs-db-01 sshd[4123]: Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2",
}

func BenchmarkParse(b *testing.B) {
	now := time.Now()
	for name, line := range benchLines {
		data := []byte(line)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := syslog.Parse(data, syslog.Options{Now: now}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
