package collector_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// TestInvalidUTF8SamePolicyOnEveryInput sends a record with invalid UTF-8
// over UDP and TCP (syslog) and HTTP (NDJSON): each is stored as an event
// (not a rejection) with U+FFFD in its text, the exact bytes in
// kuzet.original_b64, the invalid_utf8 tag, and counted per input.
func TestInvalidUTF8SamePolicyOnEveryInput(t *testing.T) {
	sf, err := collector.DefaultStreams()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, sf, func(c *config.Collector) {
		c.Inputs[0].Pipeline, c.Inputs[1].Pipeline, c.Inputs[2].Pipeline = "syslog", "syslog", "ndjson"
	})
	sent := map[string]string{
		"udp":  "<13>Nov 24 10:00:01 ems-01 app: udp caf\xe9",
		"tcp":  "<13>Nov 24 10:00:01 ems-01 app: tcp caf\xe9",
		"http": `{"message":"http caf` + "\xe9" + `","host":{"name":"ems-01"}}`,
	}
	u, err := net.Dial("udp", f.c.InputAddr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(u, sent["udp"])
	u.Close()
	tc, err := net.Dial("tcp", f.c.InputAddr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(tc, sent["tcp"]+"\n")
	tc.Close()
	resp := f.post(t, []byte(sent["http"]+"\n"), "", f.key)
	if a := decodeAnswer(t, resp); a.counts() != "accepted 1 rejected 0 last_line 1" {
		t.Errorf("http: %s", a.counts())
	}
	for _, ev := range f.waitEvents(t, 3) {
		in := ev.Kuzet.Input
		raw, _ := base64.StdEncoding.DecodeString(ev.Kuzet.OriginalB64)
		if ev.Event.Kind == "pipeline_error" || !bytes.Equal(raw, []byte(sent[in])) ||
			!strings.Contains(ev.Event.Original, in+" caf\uFFFD") || !slices.Contains(ev.Tags, collector.TagInvalidUTF8) {
			t.Errorf("%s: kind %s, original %q, original_b64 %q, tags %v", in, ev.Event.Kind, ev.Event.Original, raw, ev.Tags)
		}
	}
	metrics := scrape(t, f.c.OpsAddr())
	for in := range sent {
		want := fmt.Sprintf(`kuzet_collector_records_invalid_utf8_total{input=%q} 1`, in)
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
