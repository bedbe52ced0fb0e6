package event_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kuzet-kz/kuzet/internal/event"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event.Schema))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

// validateJSON checks one marshalled event against the JSON Schema.
func validateJSON(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return s.Validate(doc)
}

func fullEvent(t testing.TB) *event.Event {
	t.Helper()
	ev := &event.Event{Timestamp: time.Date(2026, 11, 24, 9, 30, 0, 123000000, time.UTC)}
	if err := event.Stamp(ev, time.Now(), "almaty-1", "oisc-energy", "syslog-udp"); err != nil {
		t.Fatal(err)
	}
	ev.Kuzet.SourceType = "syslog"
	ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector = "kegoc", "kegoc-scada", "electricity"
	ev.Kuzet.Criticality, ev.Kuzet.EGov, ev.Kuzet.Asset = 1, false, event.AssetKnown
	ev.Kuzet.ObjectTags = []string{"scada", "remote_access"}
	ev.Kuzet.TimeSource, ev.Kuzet.TimeZone = event.TimeEvent, event.ZoneDevice
	for _, p := range event.Paths() {
		var v any
		switch {
		case p == "@timestamp" || p == "event.created" || p == "event.start" || p == "event.end":
			v = "2026-11-24T09:30:00Z"
		case p == "tls.established" || p == "tls.resumed" || strings.HasSuffix(p, ".signed") || strings.HasSuffix(p, ".trusted"):
			v = true
		case p == "event.sequence" || p == "event.duration" || p == "process.exit_code" || p == "file.size" || p == "http.response.status_code":
			v = "42"
		case strings.HasSuffix(p, ".ip") && p != "host.ip":
			v = "10.1.2.3"
		case p == "host.ip":
			v = []any{"10.1.2.3", "fe80::1"}
		case strings.HasSuffix(p, "port"):
			v = 443
		case strings.HasSuffix(p, "pid") || strings.HasSuffix(p, "bytes") || strings.HasSuffix(p, "packets"):
			v = "42"
		case p == "log.syslog.priority":
			v = 13
		case strings.HasSuffix(p, ".code") && strings.HasPrefix(p, "log.syslog."):
			v = 5
		case p == "event.severity":
			v = 7.0
		case p == "event.kind":
			v = "event"
		case p == "event.outcome":
			v = "success"
		default:
			v = "x-" + p
		}
		if err := ev.Set(p, v); err != nil {
			t.Fatalf("Set(%q, %v): %v", p, v, err)
		}
	}
	for k, v := range map[string]any{
		"winlog.EventID": 4688, "winlog.Channel": "Security", "winlog.NewProcessName": `C:\Windows\cmd.exe`,
		"zeek.id.orig_h": "10.0.0.1", "zeek._path": "dns", "suricata.alert": map[string]any{"signature_id": 1},
		"cef.act": "blocked", "leef.devTime": "Nov 24", "auditd.type": "EXECVE", "wazuh.rule": map[string]any{"level": 5},
		"fields.custom": []any{"a"}, "labels.site": "north",
	} {
		if err := ev.Set(k, v); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	ev.Log.Syslog.StructuredData = map[string]map[string]string{"origin@1": {"ip": "10.0.0.1"}}
	return ev
}

func TestFullEventMatchesSchema(t *testing.T) {
	s := compileSchema(t)
	ev := fullEvent(t)
	if err := ev.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	data, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(t, s, data); err != nil {
		t.Fatalf("schema rejects a full event: %v\n%s", err, data)
	}
	// Every typed path is present in the JSON document at its nested place.
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range event.Paths() {
		if p == "@timestamp" {
			continue
		}
		var cur any = doc
		for _, seg := range strings.Split(p, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%s: %v is not an object", p, cur)
			}
			if cur, ok = m[seg]; !ok {
				t.Fatalf("path %s missing from JSON", p)
			}
		}
	}
	if got := doc["zeek"].(map[string]any)["id.orig_h"]; got != "10.0.0.1" {
		t.Errorf("zeek key with dots: got %v", got)
	}
	// Round trip keeps everything.
	var back event.Event
	if err := event.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := event.Marshal(&back)
	if !bytes.Equal(again, data) {
		t.Errorf("round trip changed the event:\n%s\n%s", data, again)
	}
}

func TestMinimalEventMatchesSchema(t *testing.T) {
	s := compileSchema(t)
	ev := &event.Event{Timestamp: time.Now().UTC()}
	if err := event.Stamp(ev, time.Now(), "c1", "oisc-a", ""); err != nil {
		t.Fatal(err)
	}
	ev.Kuzet.Asset = event.AssetUnknown
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	data, _ := event.Marshal(ev)
	if err := validateJSON(t, s, data); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
}

func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	base := func() map[string]any {
		ev := fullEvent(t)
		data, _ := event.Marshal(ev)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}
	cases := map[string]func(m map[string]any){
		"unknown top-level key": func(m map[string]any) { m["Image"] = "x" },
		"bad sector":            func(m map[string]any) { m["kuzet"].(map[string]any)["sector"] = "space" },
		"bad object tag":        func(m map[string]any) { m["kuzet"].(map[string]any)["object_tags"] = []any{"Not An Id"} },
		"event id not v7": func(m map[string]any) {
			m["kuzet"].(map[string]any)["event_id"] = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
		},
		"bad ip":            func(m map[string]any) { m["source"].(map[string]any)["ip"] = "999.1.1.1" },
		"port range":        func(m map[string]any) { m["destination"].(map[string]any)["port"] = 70000 },
		"missing kuzet":     func(m map[string]any) { delete(m, "kuzet") },
		"local time":        func(m map[string]any) { m["@timestamp"] = "2026-11-24T09:30:00+05:00" },
		"unknown ecs field": func(m map[string]any) { m["process"].(map[string]any)["image"] = "x" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := base()
			mutate(m)
			data, _ := json.Marshal(m)
			if err := validateJSON(t, s, data); err == nil {
				t.Errorf("schema accepted %s", data)
			}
		})
	}
}

func TestValidateNamesFields(t *testing.T) {
	ev := &event.Event{}
	ev.Kuzet.Asset = "maybe"
	ev.Kuzet.Collector = "Bad Collector"
	ev.Source = &event.Endpoint{IP: "nope", Port: 70000}
	ev.Event.Outcome = "ok"
	err := ev.Validate()
	if err == nil {
		t.Fatal("Validate accepted an empty event")
	}
	for _, want := range []string{"kuzet.event_id", "kuzet.received_at", "@timestamp", "kuzet.collector",
		"kuzet.oisc", "kuzet.asset", "source.ip", "source.port", "event.outcome"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestSetConversions(t *testing.T) {
	ev := &event.Event{}
	for _, c := range []struct {
		path string
		in   any
		want any
	}{
		{"source.port", "8080", int64(8080)},
		{"source.port", json.Number("53"), int64(53)},
		{"process.pid", 4.0, int64(4)},
		{"user.name", 123, "123"},
		{"event.category", "network", []string{"network"}},
		{"event.category", []any{"network", "intrusion_detection"}, []string{"network", "intrusion_detection"}},
		{"event.outcome", true, "true"},
	} {
		if err := ev.Set(c.path, c.in); err != nil {
			t.Fatalf("Set(%s, %v): %v", c.path, c.in, err)
		}
		got, ok := ev.Get(c.path)
		if !ok {
			t.Fatalf("Get(%s): unset", c.path)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(c.want)
		if string(gj) != string(wj) {
			t.Errorf("%s: got %s want %s", c.path, gj, wj)
		}
	}
	for _, c := range []struct {
		path string
		in   any
	}{
		{"source.port", "http"}, {"process.pid", 1.5}, {"@timestamp", "yesterday"},
		{"kuzet.org", "x"}, {"nosuch", "x"}, {"winlog", "x"}, {"source.port", map[string]any{}},
	} {
		if err := ev.Set(c.path, c.in); err == nil {
			t.Errorf("Set(%s, %v) accepted", c.path, c.in)
		}
	}
	if _, ok := ev.Get("destination.ip"); ok {
		t.Error("Get of an unset field reports set")
	}
	if ev.Destination != nil {
		t.Error("Get created an object")
	}
}

func TestIDs(t *testing.T) {
	a, _ := event.NewID()
	time.Sleep(2 * time.Millisecond)
	b, _ := event.NewID()
	if a >= b {
		t.Errorf("ids do not sort by time: %s >= %s", a, b)
	}
	if _, err := event.ParseID(a); err != nil {
		t.Error(err)
	}
	if _, err := event.ParseID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"); err == nil {
		t.Error("v1 uuid accepted")
	}
	ev := &event.Event{}
	_ = event.Stamp(ev, time.Now(), "c", "o", "i")
	id, at := ev.Kuzet.EventID, ev.Kuzet.ReceivedAt
	_ = event.Stamp(ev, time.Now().Add(time.Hour), "c", "o", "i")
	if ev.Kuzet.EventID != id || !ev.Kuzet.ReceivedAt.Equal(at) {
		t.Error("Stamp changed an assigned identity")
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "oisc-almaty": true, "kz_cert_1": true, "0day": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "_a": false, "A": false, "a.b": false, "a b": false, "a*": false, "a>": false,
		strings.Repeat("a", 64): false, "қаз": false,
	} {
		if got := event.ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v", s, got)
		}
	}
}

func TestValidPath(t *testing.T) {
	for p, want := range map[string]bool{
		"source.ip": true, "@timestamp": true, "log.syslog.facility.code": true, "winlog.EventID": true,
		"zeek.id.orig_h": true, "labels.site": true, "fields.x": true,
		"source": false, "source.nope": false, "kuzet.org": false, "winlog": false, "nope.x": false, "": false,
	} {
		if got := event.ValidPath(p); got != want {
			t.Errorf("ValidPath(%q) = %v", p, got)
		}
	}
}

func TestMarshalKeepsAngleBrackets(t *testing.T) {
	ev := &event.Event{Message: "<38>1 a & b"}
	data, err := event.Marshal(ev)
	if err != nil || !strings.Contains(string(data), `"message":"<38>1 a & b"`) || strings.HasSuffix(string(data), "\n") {
		t.Errorf("%s %v", data, err)
	}
}

// Path.Text is GetString for every path, set or not: the typed text
// fields read without boxing, the others through Get.
func TestPathText(t *testing.T) {
	full := &event.Event{}
	for i, p := range event.Paths() {
		// A value each kind of field takes: text, integer, list or time.
		for _, v := range []any{"2026-11-24T10:00:01Z", int64(i + 1), "x" + p} {
			if full.Set(p, v) == nil {
				break
			}
		}
	}
	_ = full.Set("labels.a", "b")
	full.Labels["empty"] = "" // set, though empty: Get finds it
	_ = full.Set("zeek.id.orig_h", "10.0.0.1")
	paths := append(event.Paths(), "labels.a", "labels.empty", "labels.none", "zeek.id.orig_h", "zeek.none", "nope", "nope.x")
	texts := 0
	for _, ev := range []*event.Event{{}, full} {
		for _, path := range paths {
			p := event.LookupPath(path)
			got, gotOK := p.Text(ev)
			v, wantOK := ev.Get(path)
			if want := ev.GetString(path); got != want || gotOK != wantOK {
				t.Errorf("%s: Text %q, %v; GetString %q, Get's ok %v", path, got, gotOK, want, wantOK)
			}
			if p.IsText() {
				texts++
				if _, ok := v.(string); v != nil && !ok {
					t.Errorf("%s: IsText, but Get returns %T", path, v)
				}
			}
		}
	}
	if texts == 0 {
		t.Error("no path is a text field")
	}
}

// Path.SetText is Set for every text path.
func TestPathSetText(t *testing.T) {
	for _, path := range append(event.Paths(), "labels.a", "zeek.x") {
		p := event.LookupPath(path)
		if !p.IsText() {
			continue
		}
		for _, s := range []string{"v", ""} {
			a, b := &event.Event{}, &event.Event{}
			errA, errB := a.Set(path, s), p.SetText(b, s)
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if (errA == nil) != (errB == nil) || string(ja) != string(jb) {
				t.Errorf("%s = %q: Set %s (%v), SetText %s (%v)", path, s, ja, errA, jb, errB)
			}
		}
	}
}
