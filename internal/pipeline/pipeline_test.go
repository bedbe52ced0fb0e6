package pipeline_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// TestShippedPipelines loads every pipeline in pipelines/ and runs the
// examples written in them.
func TestShippedPipelines(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"auditd", "cef", "fortigate", "leef", "ndjson", "suricata", "syslog", "wazuh", "winevent", "zeek"}
	if got := strings.Join(set.Names(), " "); got != strings.Join(want, " ") {
		t.Errorf("pipelines %s, want %s", got, strings.Join(want, " "))
	}
	for _, name := range set.Names() {
		t.Run(name, func(t *testing.T) {
			if len(set.Spec(name).Tests) == 0 {
				t.Errorf("pipeline %s has no tests", name)
			}
			for _, f := range set.RunExamples(name) {
				t.Error(f)
			}
		})
	}
}

func TestBadPipelines(t *testing.T) {
	for name, c := range map[string]struct{ yaml, want string }{
		"unknown key":              {"name: x\nparser: line\nsteps: []\nstepz: []\n", "field stepz not found"},
		"bad parser":               {"name: x\nparser: xml\n", `parser: must be one of`},
		"bad target":               {"name: x\nparser: line\nsteps:\n  - map: {a: source.nope}\n", `x.yaml:4: pipeline "x": steps[0]: a -> source.nope: not an event field`},
		"two actions":              {"name: x\nparser: line\nsteps:\n  - tag: [a]\n    drop: true\n", "exactly one action, it has 2"},
		"bad regex":                {"name: x\nparser: line\nsteps:\n  - regex: {field: message, pattern: '('}\n", "steps[0].regex.pattern"},
		"bad condition":            {"name: x\nparser: line\nsteps:\n  - if: {field: a}\n    drop: true\n", "steps[0].if"},
		"bad zone":                 {"name: x\nparser: line\nsteps:\n  - timestamp: {field: a, formats: [unix], zone: Mars/Base}\n", "timestamp.zone"},
		"bad namespace":            {"name: x\nparser: line\nnamespace: stuff\n", "namespace: must be one of"},
		"unknown dispatch":         {"name: x\nparser: line\nsteps:\n  - dispatch: nowhere\n", `dispatches to unknown pipeline "nowhere"`},
		"test without expectation": {"name: x\nparser: line\ntests:\n  - input: a\n", "needs expect or reject"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pipeline.Load(fstest.MapFS{"x.yaml": {Data: []byte(c.yaml)}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// A panic while normalising one record (a parser bug) rejects that record
// with its own reason; the stream goes on with the next.
func TestPanicRejectsOnlyThatRecord(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	pipeline.SetProcessHook(func(r ingest.Record) {
		if string(r.Data) == "<13>boom" {
			panic("parser bug")
		}
	})
	t.Cleanup(func() { pipeline.SetProcessHook(nil) })
	st, err := set.NewStream("syslog", pipeline.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	emit := func(ev *event.Event) error { got = append(got, ev.Message); return nil }
	err = st.Push(ingest.Record{Data: []byte("<13>boom"), ReceivedAt: time.Now()}, emit)
	if ingest.ReasonOf(err) != ingest.ReasonPanic || !strings.Contains(err.Error(), "parser bug") {
		t.Fatalf("err %v (reason %q), want reason %s", err, ingest.ReasonOf(err), ingest.ReasonPanic)
	}
	if err := st.Push(ingest.Record{Data: []byte("<13>Nov 24 10:00:01 host app: fine"), ReceivedAt: time.Now()}, emit); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "fine" {
		t.Fatalf("events after the panic: %q", got)
	}
}

// Values that do not fit their event field are left in the raw fields:
// the event stays valid.
func TestOutOfRangeValuesKeptRaw(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	st, err := set.NewStream("leef", pipeline.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := "LEEF:2.0|V|P|1|E|^|src=10.0.0.1^srcPort=100000^dstPort=443^devTime=99999999999999999^devTimeFormat=epoch"
	var got *event.Event
	if err := st.Push(ingest.Record{Data: []byte(rec), ReceivedAt: now}, func(ev *event.Event) error { got = ev; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := event.Stamp(got, now, "c1", "oisc-a", "t"); err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("invalid event: %v", err)
	}
	if got.Source.Port != 0 || got.Destination.Port != 443 || got.LEEF["srcPort"] != "100000" {
		t.Fatalf("ports %d/%d, raw %v", got.Source.Port, got.Destination.Port, got.LEEF["srcPort"])
	}
	if !got.Timestamp.Equal(now.UTC()) {
		t.Fatalf("@timestamp %v, want the receive time %v", got.Timestamp, now.UTC())
	}
}

func TestNewEvent(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.FixedZone("ALMT", 5*3600))
	ev := pipeline.NewEvent(ingest.Record{Input: "tcp", Peer: "10.0.0.5:514", File: "/var/log/a.log", ReceivedAt: at}, "syslog")
	if !ev.Kuzet.ReceivedAt.Equal(at) || ev.Kuzet.ReceivedAt.Location() != time.UTC {
		t.Errorf("received_at = %v, want %v in UTC", ev.Kuzet.ReceivedAt, at)
	}
	if ev.Kuzet.SourceType != "syslog" || ev.Kuzet.Input != "tcp" || ev.Kuzet.Asset != event.AssetUnknown {
		t.Errorf("kuzet = %+v", ev.Kuzet)
	}
	if ev.Log == nil || ev.Log.Source == nil || ev.Log.Source.Address != "10.0.0.5:514" || ev.Log.File == nil || ev.Log.File.Path != "/var/log/a.log" {
		t.Errorf("log = %+v", ev.Log)
	}
	if ev := pipeline.NewEvent(ingest.Record{Input: "udp"}, "cef"); ev.Log != nil {
		t.Errorf("a record without peer or file has log %+v", ev.Log)
	}
}

// TestTimeSource: a record whose time cannot be read keeps received_at as
// @timestamp, and the event says so; a record with a time says it is its own.
func TestTimeSource(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	recv := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct{ pipeline, in, want string }{
		{"ndjson", `{"msg":"no time"}`, "received"},
		{"ndjson", `{"msg":"bad time","time":"yesterday"}`, "received"},
		{"fortigate", `devname="FG" logid="1" eventtime=99999999999999999999 action="accept"`, "received"},
		{"ndjson", `{"msg":"x","@timestamp":"2026-11-24T09:59:58Z"}`, "event"},
		{"syslog", "<13>1 2026-11-24T09:59:59Z h app - - - x", "event"},
	} {
		st, err := set.NewStream(c.pipeline, pipeline.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got *event.Event
		if err := st.Push(ingest.Record{Data: []byte(c.in), ReceivedAt: recv}, func(ev *event.Event) error { got = ev; return nil }); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if got.Kuzet.TimeSource != c.want {
			t.Errorf("%s: kuzet.time_source %q, want %q", c.in, got.Kuzet.TimeSource, c.want)
		}
		if c.want == "received" && !got.Timestamp.Equal(recv) {
			t.Errorf("%s: @timestamp %v, want received_at %v", c.in, got.Timestamp, recv)
		}
	}
}

// keep: unmapped drops a field a rename consumed, also when a later kv,
// regex or json step writes it again (keep skips deleting the fields a
// rename already deleted, until such a step runs).
func TestKeepUnmappedAfterRenameAndRewrite(t *testing.T) {
	const spec = `name: x
parser: kv
keep: unmapped
steps:
  - rename: {a: message, c: event.code}
  - %s
`
	for name, step := range map[string]string{
		"kv":    "kv: {field: b}",
		"regex": "regex: {field: b, pattern: '^a=(?P<a>.*)$'}",
		"json":  "json: {field: j}",
		"none":  "remove: [zz]",
	} {
		t.Run(name, func(t *testing.T) {
			set, err := pipeline.Load(fstest.MapFS{"x.yaml": {Data: []byte(strings.Replace(spec, "%s", step, 1))}})
			if err != nil {
				t.Fatal(err)
			}
			st, err := set.NewStream("x", pipeline.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec := `a=1 c=7 b="a=2" d=4 j="{\"a\":\"3\"}"`
			var got map[string]any
			err = st.Push(ingest.Record{Data: []byte(rec), ReceivedAt: time.Now()}, func(ev *event.Event) error {
				got = ev.Fields
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if _, ok := got["a"]; ok {
				t.Errorf("fields %v keep a, which the rename consumed", keys)
			}
			if _, ok := got["c"]; ok {
				t.Errorf("fields %v keep c, which the rename consumed", keys)
			}
			if _, ok := got["d"]; !ok {
				t.Errorf("fields %v lack d", keys)
			}
		})
	}
}

// A dotted name reads its head's object as the raw fields are at that
// step: after a remove of the head, or a json step that writes it.
func TestDottedNameAfterRawChange(t *testing.T) {
	const spec = `name: x
parser: json
keep: none
steps:
  - map: {a.b: event.code}
  - remove: [a]
  - map: {a.b: event.action}
  - map: {x.y: event.provider}
  - json: {field: j}
  - map: {x.y: event.dataset}
`
	set, err := pipeline.Load(fstest.MapFS{"x.yaml": {Data: []byte(spec)}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := set.RunOne("x", []byte(`{"a":{"b":"1"},"j":"{\"x\":{\"y\":\"2\"}}"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Event.Code != "1" || ev.Event.Action != "" || ev.Event.Provider != "" || ev.Event.Dataset != "2" {
		t.Errorf("event.code %q (want 1), event.action %q (want none: a was removed), event.provider %q (want none), event.dataset %q (want 2: the json step wrote x)",
			ev.Event.Code, ev.Event.Action, ev.Event.Provider, ev.Event.Dataset)
	}
}
