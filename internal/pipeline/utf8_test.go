package pipeline_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// TestInvalidUTF8OnePolicy: every pipeline, text or JSON or joined, keeps a
// record with invalid UTF-8: U+FFFD in event.original and the parsed
// fields, the exact bytes in kuzet.original_b64.
func TestInvalidUTF8OnePolicy(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	sch := schema(t)
	records := map[string]string{
		"syslog":    "<13>Nov 24 10:00:01 h app: caf\xe9 ok",
		"cef":       "CEF:0|a|b|1|2|caf\xe9|3|src=10.0.0.1",
		"leef":      "LEEF:1.0|a|b|1|2|src=10.0.0.1\tusrName=caf\xe9",
		"fortigate": "date=2026-11-24 time=10:00:01 srcip=10.0.0.1 user=\"caf\xe9\"",
		"ndjson":    `{"msg":"caf` + "\xe9" + ` ok"}`,
		"suricata":  `{"event_type":"alert","src_ip":"10.0.0.1","alert":{"signature":"caf` + "\xe9" + `"}}`,
		"zeek":      `{"_path":"conn","ts":1.5,"service":"caf` + "\xe9" + `"}`,
		"wazuh":     `{"rule":{"id":"1","description":"caf` + "\xe9" + `"}}`,
		"winevent":  `{"Event":{"System":{"EventID":1,"Channel":"caf` + "\xe9" + `"}}}`,
		"auditd":    "type=SYSCALL msg=audit(1.0:1): syscall=59 comm=\"caf\xe9\"",
	}
	for _, name := range set.Names() {
		in, ok := records[name]
		if !ok {
			t.Errorf("no invalid UTF-8 case for pipeline %s", name)
			continue
		}
		st, err := set.NewStream(name, pipeline.StreamOptions{MaxRecord: 65536})
		if err != nil {
			t.Fatal(err)
		}
		var got []*event.Event
		emit := func(ev *event.Event) error { got = append(got, ev); return nil }
		if err := st.Push(ingest.Record{Data: []byte(in), ReceivedAt: time.Now()}, emit); err != nil {
			t.Errorf("%s: rejected (%v)", name, err)
			continue
		}
		if err := st.Flush(emit); err != nil {
			t.Errorf("%s: flush: %v", name, err)
		}
		if len(got) != 1 {
			t.Errorf("%s: %d events", name, len(got))
			continue
		}
		ev := got[0]
		raw, _ := base64.StdEncoding.DecodeString(ev.Kuzet.OriginalB64)
		if string(raw) != in {
			t.Errorf("%s: original_b64 %q, want the exact bytes", name, raw)
		}
		if !utf8.ValidString(ev.Event.Original) || !strings.Contains(ev.Event.Original, "caf\uFFFD") {
			t.Errorf("%s: event.original %q", name, ev.Event.Original)
		}
		check(t, sch, ev, name)
	}
}
