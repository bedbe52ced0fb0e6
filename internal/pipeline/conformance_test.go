package pipeline_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event.Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// check stamps the event as a collector would and validates it twice: by
// Validate and by the JSON Schema.
func check(t *testing.T, s *jsonschema.Schema, ev *event.Event, what string) {
	t.Helper()
	if err := event.Stamp(ev, time.Now(), "c1", "oisc-a", "test"); err != nil {
		t.Fatal(err)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("%s: invalid event: %v", what, err)
		return
	}
	data, _ := event.Marshal(ev)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err := s.Validate(doc); err != nil {
		t.Errorf("%s: schema rejects the event: %v\n%s", what, err, data)
	}
}

func stream(t *testing.T, set *pipeline.Set, name string) *pipeline.Stream {
	t.Helper()
	st, err := set.NewStream(name, pipeline.StreamOptions{Location: time.UTC, MaxRecord: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestZeekConformance runs every record of the real Zeek logs through the
// zeek pipeline: each is a valid event that keeps Zeek's own field names.
func TestZeekConformance(t *testing.T) {
	dir := conformance.Path(t, "zeek")
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	sch := schema(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if len(files) < 9 {
		t.Fatalf("%d Zeek logs", len(files))
	}
	total := 0
	for _, f := range files {
		st := stream(t, set, "zeek")
		n := 0
		conformance.GzipLines(t, f, func(b []byte) bool {
			line := append([]byte(nil), b...)
			var got *event.Event
			err := st.Push(ingest.Record{Data: line, File: f, ReceivedAt: time.Now()}, func(ev *event.Event) error { got = ev; return nil })
			if err != nil {
				t.Fatalf("%s line %d: %v", filepath.Base(f), n+1, err)
			}
			var raw map[string]any
			_ = json.Unmarshal(line, &raw)
			// Zeek's keys survive verbatim; ECS fields are filled.
			for k := range raw {
				if _, ok := got.Zeek[k]; !ok {
					t.Fatalf("%s line %d: zeek.%s lost", filepath.Base(f), n+1, k)
				}
			}
			if _, ok := raw["id.orig_h"]; ok && (got.Source == nil || got.Source.IP != raw["id.orig_h"]) {
				t.Fatalf("%s line %d: source.ip not set from id.orig_h", filepath.Base(f), n+1)
			}
			if got.Event.Dataset != "zeek."+raw["_path"].(string) || got.Timestamp.Year() != 2018 {
				t.Fatalf("%s line %d: dataset %q time %v", filepath.Base(f), n+1, got.Event.Dataset, got.Timestamp)
			}
			// Schema-check a sample: all of the small logs, every 500th of the big ones.
			if n < 500 || n%500 == 0 {
				check(t, sch, got, filepath.Base(f))
			}
			n++
			return true
		})
		total += n
	}
	t.Logf("%d Zeek records normalised", total)
	if total < 100000 {
		t.Errorf("only %d records", total)
	}
}

// TestWindowsConformance runs the SigmaHQ regression events (evtx_dump JSON)
// through the winevent pipeline: valid events whose winlog namespace holds
// exactly SigmaHQ's flattened fields.
func TestWindowsConformance(t *testing.T) {
	root := conformance.Path(t, "sigmahq")
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	sch := schema(t)
	raws := map[string][]json.RawMessage{}
	n := 0
	conformance.Lines(t, filepath.Join(root, "regression_events.flat.jsonl"), func(line []byte) bool {
		var flat map[string]any
		_ = json.Unmarshal(line, &flat)
		src := flat["_source"].(string)
		if _, ok := raws[src]; !ok {
			raws[src] = conformance.JSONValues(t, filepath.Join(root, src))
		}
		raw := raws[src][int(flat["_index"].(float64))]
		ev, err := set.RunOne("winevent", compact(t, raw))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for k, v := range flat {
			if strings.HasPrefix(k, "_") {
				continue
			}
			got, ok := ev.Winlog[k]
			if !ok {
				t.Errorf("%s: winlog.%s missing", src, k)
				continue
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(v)
			if string(gj) != string(wj) {
				t.Errorf("%s: winlog.%s = %s, want %s", src, k, gj, wj)
			}
		}
		check(t, sch, ev, src)
		n++
		return true
	})
	if n < 200 {
		t.Fatalf("%d events", n)
	}
}

func compact(t *testing.T, raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMalformedInput feeds every pipeline garbage, truncated records,
// invalid UTF-8 and oversize records: each is rejected with a reason or
// (text formats) kept with its exact bytes, and the stream goes on.
func TestMalformedInput(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	sch := schema(t)
	good := map[string]string{
		"syslog": "<13>Nov 24 10:00:01 h app: ok", "cef": "CEF:0|a|b|1|2|n|3|src=10.0.0.1", "leef": "LEEF:1.0|a|b|1|2|src=10.0.0.1",
		"ndjson": `{"msg":"ok"}`, "suricata": `{"event_type":"flow","src_ip":"10.0.0.1"}`, "zeek": `{"_path":"conn","ts":1.5}`,
		"wazuh": `{"rule":{"id":"1"}}`, "winevent": `{"Event":{"System":{"EventID":1,"Channel":"c"}}}`,
		"fortigate": "date=2026-11-24 time=10:00:01 srcip=10.0.0.1", "auditd": "type=SYSCALL msg=audit(1.0:1): syscall=59",
	}
	bad := []string{"", "\x00\x01\x02", "{\"truncated\": ", "\xff\xfe\xfd garbage \xc0", strings.Repeat("A", 70000), "CEF:0|", "LEEF:9|x", "{}{}"}
	for _, name := range set.Names() {
		st, err := set.NewStream(name, pipeline.StreamOptions{MaxRecord: 65536})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range bad {
			var got *event.Event
			err := st.Push(ingest.Record{Data: []byte(in), ReceivedAt: time.Now()}, func(ev *event.Event) error { got = ev; return nil })
			if err != nil {
				if ingest.ReasonOf(err) == "" {
					t.Errorf("%s: error without a reason: %v", name, err)
				}
				continue
			}
			// Accepted (text formats take any text): a valid event that
			// keeps the exact bytes when they were not UTF-8.
			check(t, sch, got, name+" "+strings.ToValidUTF8(in[:min(len(in), 20)], "?"))
			if !isUTF8(in) && got.Kuzet.OriginalB64 == "" {
				t.Errorf("%s: invalid UTF-8 accepted without the exact bytes", name)
			}
		}
		if got := len(in(bad, 70000)); got == 0 {
			t.Fatal("no oversize case")
		}
		var after *event.Event
		if err := st.Push(ingest.Record{Data: []byte(good[name]), ReceivedAt: time.Now()}, func(ev *event.Event) error { after = ev; return nil }); err != nil {
			t.Errorf("%s: the stream did not go on after bad input: %v", name, err)
		}
		_ = st.Flush(func(ev *event.Event) error { after = ev; return nil })
		if after == nil {
			t.Errorf("%s: no event after bad input", name)
		}
	}
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }

func in(l []string, n int) []string {
	var out []string
	for _, s := range l {
		if len(s) >= n {
			out = append(out, s)
		}
	}
	return out
}
