package pipeline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

var almaty = time.FixedZone("Asia/Almaty", 5*3600)

func run(t *testing.T, name string, data string, now time.Time) (*event.Event, error) {
	t.Helper()
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	st, err := set.NewStream(name, pipeline.StreamOptions{Location: almaty, Now: func() time.Time { return now }, MaxRecord: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var got *event.Event
	err = st.Push(ingest.Record{Data: []byte(data), Input: "in", Peer: "192.0.2.1:514", ReceivedAt: now}, func(ev *event.Event) error {
		got = ev
		return nil
	})
	if err == nil {
		if err := event.Stamp(got, now, "c1", "oisc-a", ""); err != nil {
			t.Fatal(err)
		}
		if verr := got.Validate(); verr != nil {
			t.Errorf("invalid event: %v", verr)
		}
	}
	return got, err
}

func TestSyslogRFC5424Examples(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	// RFC 5424 section 6.5, examples 1 and 3 (with structured data).
	ev, err := run(t, "syslog", "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8", now)
	if err != nil {
		t.Fatal(err)
	}
	sl := ev.Log.Syslog
	if *sl.Priority != 34 || sl.Facility.Name != "auth" || sl.Severity.Name != "critical" || sl.Hostname != "mymachine.example.com" ||
		sl.Appname != "su" || sl.MsgID != "ID47" || ev.Message != "'su root' failed for lonvick on /dev/pts/8" ||
		!ev.Timestamp.Equal(time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC)) || ev.Host.Name != "mymachine.example.com" {
		t.Errorf("example 1: %+v %+v", ev, sl)
	}
	ev, err = run(t, "syslog", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event`, now)
	if err != nil {
		t.Fatal(err)
	}
	sd := ev.Log.Syslog.StructuredData
	if sd["exampleSDID@32473"]["eventSource"] != "Application" || sd["examplePriority@32473"]["class"] != "high" || ev.Message != "An application event" {
		t.Errorf("example 3: %+v %q", sd, ev.Message)
	}
	ev, _ = run(t, "syslog", `<13>1 - - - - - [a@1 x="q\"uo\]te\\"] m`, now)
	if ev.Log.Syslog.StructuredData["a@1"]["x"] != `q"uo]te\` || !ev.Timestamp.Equal(now) {
		t.Errorf("escapes and nil timestamp: %+v %v", ev.Log.Syslog.StructuredData, ev.Timestamp)
	}
}

func TestSyslogRFC3164(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	// RFC 3164 section 5.4 example 1; a December record received in January.
	ev, err := run(t, "syslog", "<34>Dec 31 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Timestamp.Year() != 2025 || ev.Log.Syslog.Hostname != "mymachine" || ev.Log.Syslog.Appname != "su" ||
		ev.Message != "'su root' failed for lonvick on /dev/pts/8" || ev.Timestamp.Hour() != 17 {
		t.Errorf("3164: %v %+v %q", ev.Timestamp, ev.Log.Syslog, ev.Message)
	}
	ev, _ = run(t, "syslog", "<86>Jan  2 08:01:02 cbs-db-01 sshd[4123]: Accepted publickey for root", now)
	if ev.Log.Syslog.ProcID != "4123" || ev.Process.PID != 4123 || ev.Timestamp.Day() != 2 || ev.Host.Name != "cbs-db-01" {
		t.Errorf("pid and day padding: %+v %v", ev.Log.Syslog, ev.Timestamp)
	}
}

func TestSyslogCEF(t *testing.T) {
	now := time.Now()
	// ArcSight CEF guide example, inside syslog.
	ev, err := run(t, "syslog", `<132>Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=Detected a threat. No action needed act=blocked a\=b`, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.CEF["device_vendor"] != "Security" || ev.Rule.Name != "worm successfully stopped" || ev.Source.IP != "10.0.0.1" ||
		ev.Source.Port != 1232 || ev.CEF["msg"] != "Detected a threat. No action needed" || ev.CEF["act"] != "blocked a=b" ||
		ev.Event.Severity != 10 || ev.Destination.IP != "2.1.2.2" {
		t.Errorf("cef: %+v %+v", ev.CEF, ev.Source)
	}
	ev, _ = run(t, "syslog", `CEF:0|ven\|dor|prod|1|sig|name with \\ backslash|5|`, now)
	if ev.CEF["device_vendor"] != "ven|dor" || ev.CEF["name"] != `name with \ backslash` {
		t.Errorf("cef header escapes: %+v", ev.CEF)
	}
}

func TestSyslogMalformed(t *testing.T) {
	now := time.Now()
	for name, c := range map[string]struct{ in, reason string }{
		"bad priority":  {"<999>1 - - - - - x", ingest.ReasonSyntax},
		"open priority": {"<34 nope", ingest.ReasonSyntax},
		"empty":         {"", ingest.ReasonEmpty},
		"oversize":      {"<13>" + strings.Repeat("x", 5000), ingest.ReasonOversize},
	} {
		if _, err := run(t, "syslog", c.in, now); ingest.ReasonOf(err) != c.reason || err == nil {
			t.Errorf("%s: %v, want %s", name, err, c.reason)
		}
	}
	// Invalid UTF-8 from a legacy device is kept: replaced in text, exact in base64.
	ev, err := run(t, "syslog", "<13>Nov 24 10:00:00 h app: \xc0\xff cp1251", now)
	if err != nil || ev.Kuzet.OriginalB64 == "" || !strings.Contains(ev.Event.Original, "\uFFFD") {
		t.Errorf("invalid utf-8: %v %+v", err, ev)
	}
}

func TestWineventRegressionData(t *testing.T) {
	dir := conformance.Path(t, "sigmahq", "regression_data")
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 150 {
		t.Fatalf("found %d event files", len(files))
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			ev, err := run(t, "winevent", string(raw), time.Now())
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			n++
			if _, ok := ev.Winlog[event.WinEventID].(int64); !ok {
				t.Errorf("%s: EventID %T", f, ev.Winlog[event.WinEventID])
			}
			if ev.Winlog[event.WinChannel] == nil || ev.Winlog[event.WinProvider] == nil {
				t.Errorf("%s: no Channel/Provider_Name: %v", f, ev.Winlog)
			}
		}
	}
	t.Logf("%d Windows events from %d files normalised", n, len(files))
}
