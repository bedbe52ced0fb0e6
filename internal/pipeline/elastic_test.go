package pipeline_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// elasticOnly are expected-document fields that are not a mapping of the
// record: Elastic's own bookkeeping, its package namespaces, and enrichment
// from databases kuzet does not ship. They are left out of both counts.
var elasticOnly = []string{
	"ecs.", "event.ingested", "event.original", "input.", "tags", "agent.", "log.offset", "data_stream.",
	// When the agent or the pipeline saw the record, not the device.
	"event.created",
	// Package namespaces: kuzet keeps the raw fields under its own.
	"zeek.", "suricata.", "auditd.", "fortinet.", "panw.", "cef.", "winlog.", "system.",
	// Derived lists and hashes Elastic computes for its UI.
	"related.", "network.community_id",
	// GeoIP and ASN (Elastic's test GeoLite databases), the public-suffix
	// list and the user-agent database.
	".geo.", ".as.", "dns.question.registered_domain", "dns.question.subdomain", "dns.question.top_level_domain",
	"user_agent.name", "user_agent.version", "user_agent.device.", "user_agent.os.",
}

func elasticOnlyField(k string) bool {
	for _, p := range elasticOnly {
		if strings.HasPrefix(k, p) || (strings.HasPrefix(p, ".") && strings.Contains(k, p)) {
			return true
		}
	}
	return false
}

// deliberate lists, per format, fields where kuzet differs from Elastic on
// purpose, and why. They are left out of both counts and printed.
var deliberate = map[string]map[string]string{
	"windows": {
		"event.action":   "one text in kuzet (load); Elastic writes two for Sysmon (the task name and a verb)",
		"host.os.family": "host.os is a text field in kuzet's event schema v1, not an object",
		"host.os.type":   "host.os is a text field in kuzet's event schema v1, not an object",
	},
	"syslog": {
		"event.timezone": "kuzet names the zone that read a zone-less time as Go does (UTC, Asia/Almaty, -02:00); Elastic writes offsets in two formats (+0000, GMT-0200)",
	},
	"fortigate": {
		"@timestamp":       "eventtime (the instant, to the nanosecond) wins over date+time as issue 22 asks; Elastic takes date+time+tz and puts eventtime in event.start, which kuzet fills too",
		"observer.product": "FortiGate, as Fortinet spells it; Elastic writes Fortigate",
		"event.action":     "kuzet keeps the device's action (login, Edit, negotiate, detected); Elastic synthesises names for event logs and uses eventtype for UTM logs",
	},
	"suricata": {
		"host.name":     "the Filebeat agent's host from the pre-parsed input document, not in the EVE record",
		"event.dataset": "kuzet names the EVE event type (suricata.alert, suricata.dns); Elastic writes suricata.eve for all",
	},
	"zeek": {
		"host.name":                            "comes from the Splunk export wrapper around four records, not from the Zeek record",
		"log.file.path":                        "comes from the Splunk export wrapper; kuzet names the file it read",
		"tls.server.subject":                   "kept as Zeek wrote the DN (RFC 4514 escapes such as \\, stay); Elastic drops the escaped comma",
		"tls.server.x509.subject.organization": "the RFC 4514 escape \\, is a comma (Elasticsearch, Inc.); Elastic drops it",
	},
}

// Kinds of difference that hold for every format, applied by comparison.
const (
	// zeroOmitted: kuzet's typed counters omit zero (0 bytes is the field
	// absent, as for every typed integer of the event).
	zeroOmitted = "a zero counter is omitted by kuzet's typed integer fields"
	// answerData: kuzet's dns.answers are the answers' data as texts (the
	// TTLs stay in zeek.TTLs); Elastic writes objects {data, ttl}.
	answerData = "dns.answers holds the answer data as texts; Elastic writes {data, ttl} objects"
)

// elasticPair is one fixture pair: which kuzet pipeline reads it, and how.
type elasticPair struct {
	format, dir, input string
	pipeline           string
	// file is the log file name the record is read from (Zeek names its
	// log by it).
	file string
	// zone is the zone of zone-less times (the upstream test config's).
	zone string
	// structured: feed the input document (no raw record in the fixture).
	structured bool
}

var elasticPairs = []elasticPair{
	{format: "auditd", dir: "auditd/log", input: "test-coalesced-identity-events.json", pipeline: "auditd"},
	{format: "auditd", dir: "auditd/log", input: "test-coalesced-user-login-events.json", pipeline: "auditd"},
	{format: "auditd", dir: "auditd/log", input: "test-enhanced-syscall.log", pipeline: "auditd"},
	{format: "cef", dir: "cef/log", input: "test-syslog.json", pipeline: "cef"},
	{format: "fortigate", dir: "fortinet_fortigate/log", input: "test-fortinet-7-6.log", pipeline: "fortigate"},
	{format: "fortigate", dir: "fortinet_fortigate/log", input: "test-fortinet-fix.log", pipeline: "fortigate"},
	{format: "suricata", dir: "suricata/eve", input: "test-eve-tls-empty-issuerdn.log", pipeline: "suricata"},
	{format: "suricata", dir: "suricata/eve", input: "test-eve-tls-empty-subject.log", pipeline: "suricata"},
	{format: "suricata", dir: "suricata/eve", input: "test-events.json", pipeline: "suricata"},
	{format: "syslog", dir: "system/auth", input: "test-groupdel.log", pipeline: "syslog"},
	{format: "syslog", dir: "system/auth", input: "test-pam-faillock.log", pipeline: "syslog"},
	{format: "syslog", dir: "system/auth", input: "test-sudo-no-tty.log", pipeline: "syslog"},
	{format: "syslog", dir: "system/auth", input: "test-unix-chkpwd.log", pipeline: "syslog"},
	{format: "syslog", dir: "system/syslog", input: "test-systemd.log", pipeline: "syslog", zone: "-02:00"},
	{format: "windows", dir: "windows/forwarded", input: "test-security-5137.json", pipeline: "winevent", structured: true},
	{format: "windows", dir: "windows/sysmon_operational", input: "test-image-loaded-failed-signature.json", pipeline: "winevent"},
	{format: "zeek", dir: "zeek/connection", input: "test-conn.log", pipeline: "zeek", file: "conn.log"},
	{format: "zeek", dir: "zeek/dns", input: "test-dns.log", pipeline: "zeek", file: "dns.log"},
	{format: "zeek", dir: "zeek/files", input: "test-files.log", pipeline: "zeek", file: "files.log"},
	{format: "zeek", dir: "zeek/ftp", input: "test-ftp.log", pipeline: "zeek", file: "ftp.log"},
	{format: "zeek", dir: "zeek/http", input: "test-http.log", pipeline: "zeek", file: "http.log"},
	{format: "zeek", dir: "zeek/notice", input: "test-notice.log", pipeline: "zeek", file: "notice.log"},
	{format: "zeek", dir: "zeek/ssl", input: "test-ssl.log", pipeline: "zeek", file: "ssl.log"},
	{format: "zeek", dir: "zeek/weird", input: "test-weird.log", pipeline: "zeek", file: "weird.log"},
}

// belowTarget holds the measured fill and agreement floors of formats that
// do not reach the 90%/98% target yet (issue 22 is open for them).
var belowTarget = map[string][2]float64{}

// Formats kuzet has no pipeline for yet are reported, not measured.
var elasticUnsupported = map[string]string{
	"panw/panos": "PAN-OS CSV syslog: no kuzet pipeline yet",
}

// elasticRecords returns a pair's expected documents and, for each, the
// raw record Elastic's pipeline read: the input event (structured) or the
// expected document's event.original.
func elasticRecords(t *testing.T, root string, p elasticPair) (docs []map[string]any, raws [][]byte) {
	t.Helper()
	docs = readJSONList(t, filepath.Join(root, p.dir, p.input+"-expected.json"), "expected")
	var inputs []map[string]any
	if p.structured {
		inputs = readJSONList(t, filepath.Join(root, p.dir, p.input), "events")
	}
	for i, want := range docs {
		if p.structured {
			raw, _ := json.Marshal(inputs[i])
			raws = append(raws, raw)
			continue
		}
		o, _ := lookupPath(want, "event.original")
		s, ok := o.(string)
		if !ok {
			t.Fatalf("%s/%s doc %d: no event.original", p.dir, p.input, i+1)
		}
		raws = append(raws, []byte(s))
	}
	return docs, raws
}

// TestElasticConformance runs the raw records of Elastic's integration
// pipeline tests through kuzet's pipelines and compares the ECS fields with
// the documents Elastic's pipelines make of them: per format, kuzet must
// fill at least 90% of the ECS fields Elastic fills and agree on at least
// 98% of those both fill.
func TestElasticConformance(t *testing.T) {
	root := conformance.Path(t, "elastic-integrations")
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ want, filled, agree int }
	tallies := map[string]*tally{}
	missing := map[string]map[string]int{}
	var diffs []string
	general := map[string]int{}
	for _, p := range elasticPairs {
		docs, raws := elasticRecords(t, root, p)
		for i, want := range docs {
			raw := raws[i]
			got, err := runElastic(set, p, raw)
			if err != nil {
				t.Errorf("%s/%s doc %d: %v", p.dir, p.input, i+1, err)
				continue
			}
			tl := tallies[p.format]
			if tl == nil {
				tl = &tally{}
				tallies[p.format] = tl
				missing[p.format] = map[string]int{}
			}
			gotFlat := flatten(docOf(t, got), "")
			for k, wv := range flatten(want, "") {
				if elasticOnlyField(k) || deliberate[p.format][k] != "" {
					continue
				}
				tl.want++
				gv, ok := gotFlat[k]
				if !ok && wv == float64(0) {
					general[zeroOmitted]++
					continue
				}
				if !ok {
					missing[p.format][k]++
					continue
				}
				if k == "dns.answers" {
					wv = answerTexts(wv)
					general[answerData]++
				}
				tl.filled++
				if sameValue(k, gv, wv) {
					tl.agree++
				} else {
					diffs = append(diffs, fmt.Sprintf("%s %s/%s doc %d: %s = %s, Elastic %s", p.format, p.dir, p.input, i+1, k, show(gv), show(wv)))
				}
			}
		}
	}
	for dir, why := range elasticUnsupported {
		t.Logf("not measured: %s: %s", dir, why)
	}
	for f, fields := range deliberate {
		for k, why := range fields {
			t.Logf("deliberate difference: %s %s: %s", f, k, why)
		}
	}
	for why, n := range general {
		t.Logf("deliberate difference (%d fields): %s", n, why)
	}
	for _, d := range diffs {
		t.Log("disagree: " + d)
	}
	formats := make([]string, 0, len(tallies))
	for f := range tallies {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, f := range formats {
		tl := tallies[f]
		fill := float64(tl.filled) / float64(tl.want)
		agree := 1.0
		if tl.filled > 0 {
			agree = float64(tl.agree) / float64(tl.filled)
		}
		var miss []string
		for k, n := range missing[f] {
			miss = append(miss, fmt.Sprintf("%s(%d)", k, n))
		}
		sort.Strings(miss)
		t.Logf("%-9s fills %4d of %4d Elastic fields (%.1f%%), agrees on %4d of %4d (%.1f%%); unfilled: %s",
			f, tl.filled, tl.want, 100*fill, tl.agree, tl.filled, 100*agree, strings.Join(miss, " "))
		wantFill, wantAgree := 0.90, 0.98
		if fl, ok := belowTarget[f]; ok {
			// Not there yet: the measured floor holds, so nothing regresses.
			wantFill, wantAgree = fl[0], fl[1]
			t.Logf("%s: below the 90%%/98%% target, held at its floor %.1f%%/%.1f%%", f, 100*wantFill, 100*wantAgree)
		}
		if fill < wantFill {
			t.Errorf("%s: kuzet fills %.1f%% of the ECS fields Elastic fills, want >= %.1f%%", f, 100*fill, 100*wantFill)
		}
		if agree < wantAgree {
			t.Errorf("%s: kuzet agrees on %.1f%% of the fields both fill, want >= %.1f%%", f, 100*agree, 100*wantAgree)
		}
	}
}

// elasticNow is the clock of year-less syslog dates: Elastic's expected
// files resolved them to 2026 (the date kuzet's pipeline examples use).
var elasticNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func runElastic(set *pipeline.Set, p elasticPair, raw []byte) (*event.Event, error) {
	loc := time.UTC
	if p.zone != "" {
		t, err := time.Parse("-07:00", p.zone)
		if err != nil {
			return nil, err
		}
		_, off := t.Zone()
		loc = time.FixedZone(p.zone, off)
	}
	st, err := set.NewStream(p.pipeline, pipeline.StreamOptions{Location: loc, Now: func() time.Time { return elasticNow }, MaxRecord: 1 << 20})
	if err != nil {
		return nil, err
	}
	var got *event.Event
	emit := func(ev *event.Event) error { got = ev; return nil }
	lines := [][]byte{raw}
	if st.Joining() {
		lines = nil
		for _, l := range strings.Split(string(raw), "\n") {
			lines = append(lines, []byte(l))
		}
	}
	for _, l := range lines {
		if err := st.Push(ingest.Record{Data: l, File: p.file, ReceivedAt: elasticNow}, emit); err != nil {
			return nil, err
		}
	}
	if err := st.Flush(emit); err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("no event")
	}
	return got, nil
}

func readJSONList(t *testing.T, path, key string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc[key]
}

func docOf(t *testing.T, ev *event.Event) map[string]any {
	t.Helper()
	data, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// flatten turns nested objects into dotted keys; lists stay values.
func flatten(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for k2, v2 := range flatten(sub, prefix+k+".") {
				out[k2] = v2
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func lookupPath(m map[string]any, path string) (any, bool) {
	v, ok := flatten(m, "")[path]
	return v, ok
}

// sameValue compares an ECS value: as instants for times, as sets of texts
// for lists (a single value equals a list of one), else as text.
func sameValue(key string, got, want any) bool {
	if key == "@timestamp" || strings.HasPrefix(key, "event.start") || strings.HasPrefix(key, "event.end") || strings.HasSuffix(key, "not_after") || strings.HasSuffix(key, "not_before") {
		g, err1 := time.Parse(time.RFC3339Nano, texts(got)[0])
		w, err2 := time.Parse(time.RFC3339Nano, texts(want)[0])
		if err1 == nil && err2 == nil {
			// Elastic's date type keeps milliseconds; kuzet keeps the
			// source's precision.
			return g.Truncate(time.Millisecond).Equal(w.Truncate(time.Millisecond))
		}
	}
	g, w := texts(got), texts(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func texts(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, texts(e)...)
		}
		return out
	case string:
		return []string{x}
	case nil:
		return []string{""}
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}

// answerTexts turns Elastic's dns.answers objects into their data.
func answerTexts(v any) any {
	l, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m["data"])
			continue
		}
		out = append(out, e)
	}
	return out
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
