package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

// lineStream is a minimal normaliser for testing the collector's own
// mechanics (inputs, identity, enrichment, batching, quarantine): a record
// "host|message" (after an optional syslog PRI "<N>") becomes an event of
// that host; "DROP" is dropped; anything without '|' is rejected as a
// syntax error.
type lineStream struct{}

func (lineStream) Push(rec ingest.Record, emit func(*event.Event) error) error {
	if string(rec.Data) == "DROP" {
		return ingest.Errorf(ingest.ReasonDropped, "drop rule")
	}
	s := string(rec.Data)
	if pri, rest, ok := strings.Cut(s, ">"); ok && strings.HasPrefix(pri, "<") {
		s = rest
	}
	host, msg, ok := strings.Cut(s, "|")
	if !ok {
		return ingest.Errorf(ingest.ReasonSyntax, "no '|' in record")
	}
	ev := &event.Event{Timestamp: rec.ReceivedAt, Message: msg, Host: &event.Host{Name: host}}
	ev.Kuzet.ReceivedAt, ev.Kuzet.SourceType, ev.Kuzet.Asset = rec.ReceivedAt, "test", event.AssetUnknown
	ev.Event.Original = string(rec.Data)
	return emit(ev)
}

func (lineStream) Flush(func(*event.Event) error) error { return nil }

func streams(string, pipeline.StreamOptions) (collector.Stream, error) { return lineStream{}, nil }

type fixture struct {
	c    *collector.Collector
	srv  *natsserver.Server
	js   jetstream.JetStream
	reg  *prometheus.Registry
	key  string
	cert tls.Certificate
}

func newFixture(t *testing.T, mutate func(*config.Collector)) *fixture {
	t.Helper()
	return newFixtureWith(t, streams, mutate)
}

// newFixtureWith runs a collector whose inputs normalise with sf.
func newFixtureWith(t *testing.T, sf collector.StreamFactory, mutate func(*config.Collector)) *fixture {
	t.Helper()
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	f := &fixture{srv: s, js: js, reg: prometheus.NewPedanticRegistry(), key: "test-ingest-key"}
	cfg := config.DefaultCollector()
	cfg.ID, cfg.OISC = "c1", "oisc-almaty"
	cfg.NATS.URL = s.ClientURL()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.RegistryFile = filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml")
	cfg.Batch.Linger = 50 * time.Millisecond
	cfg.Inputs = []config.Input{
		{Name: "udp", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "test", MaxRecord: 200},
		{Name: "tcp", Type: config.InputTCP, Listen: "127.0.0.1:0", Pipeline: "test", MaxRecord: 200},
		{Name: "http", Type: config.InputHTTP, Listen: "127.0.0.1:0", Pipeline: "test", MaxRecord: 200, MaxBody: 4096,
			Keys: []string{access.HashKey(f.key)}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := collector.New(collector.Options{Config: cfg, Streams: sf, Registerer: f.reg,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
	f.c = c
	return f
}

// events reads every event published so far.
func (f *fixture) events(t *testing.T) []event.Event {
	t.Helper()
	ctx := context.Background()
	st, err := f.js.Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	var out []event.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != bus.EventsSubject("oisc-almaty", "c1") {
			t.Errorf("subject %s", m.Subject)
		}
		if m.Header.Get("Nats-Msg-Id") == "" {
			t.Error("no Nats-Msg-Id")
		}
		out = append(out, bustest.Events(t, m.Header, m.Data)...)
	}
	return out
}

func (f *fixture) waitEvents(t *testing.T, n int) []event.Event {
	t.Helper()
	var evs []event.Event
	proctest.Eventually(t, 15*time.Second, func(context.Context) error {
		evs = f.events(t)
		if len(evs) < n {
			return fmt.Errorf("%d of %d events published", len(evs), n)
		}
		return nil
	})
	return evs
}

func byMessage(evs []event.Event) map[string]event.Event {
	m := map[string]event.Event{}
	for _, ev := range evs {
		m[ev.Message] = ev
	}
	return m
}

func TestInputsStampEnrichAndPublish(t *testing.T) {
	f := newFixture(t, nil)
	// UDP.
	u, err := net.Dial("udp", f.c.InputAddr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(u, "ems-01|udp one\n")
	u.Close()
	// TCP: an LF-framed and an octet-counted connection (auto framing).
	for _, frames := range []string{"boiler-hmi-1|tcp lf\n", fmt.Sprintf("%d %s", len("<13>cbs-db-01|tcp octet"), "<13>cbs-db-01|tcp octet")} {
		tc, err := net.Dial("tcp", f.c.InputAddr("tcp"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(tc, frames)
		tc.Close()
	}
	// HTTP, gzip.
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	fmt.Fprint(zw, "10.30.1.1|http one\nnot-a-record\nDROP\nx.telemetry.steppe-gas.example|http two\n")
	zw.Close()
	resp := f.post(t, body.Bytes(), "gzip", f.key)
	var ir struct{ Accepted, Rejected int }
	_ = json.NewDecoder(resp.Body).Decode(&ir)
	resp.Body.Close()
	if resp.StatusCode != 200 || ir.Accepted != 2 || ir.Rejected != 2 {
		t.Errorf("http ingest: %d %+v", resp.StatusCode, ir)
	}
	evs := f.waitEvents(t, 6)
	got := byMessage(evs)
	for msg, want := range map[string]struct{ input, object, sector string }{
		"udp one":   {"udp", "altyn-scada", "electricity"},
		"tcp lf":    {"tcp", "dala-boilers", "heat_supply"},
		"tcp octet": {"tcp", "", ""}, // cbs-db-01 is an object of another OISC
		"http one":  {"http", "steppe-pipeline", "gas_supply"},
		"http two":  {"http", "steppe-pipeline", "gas_supply"},
	} {
		ev, ok := got[msg]
		if !ok {
			t.Errorf("event %q not published", msg)
			continue
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("%q invalid: %v", msg, err)
		}
		k := ev.Kuzet
		if k.Input != want.input || k.Object != want.object || k.Sector != want.sector || k.Collector != "c1" || k.OISC != "oisc-almaty" {
			t.Errorf("%q: %+v, want %+v", msg, k, want)
		}
		if (want.object == "") != (k.Asset == event.AssetUnknown) {
			t.Errorf("%q: asset %q", msg, k.Asset)
		}
	}
	// The rejected record is quarantined with its reason; the dropped one is not.
	var quarantined []event.Event
	for _, ev := range evs {
		if ev.Event.Kind == "pipeline_error" {
			quarantined = append(quarantined, ev)
		}
	}
	if len(quarantined) != 1 || quarantined[0].Event.Original != "not-a-record" ||
		quarantined[0].Labels["reject_reason"] != ingest.ReasonSyntax || !strings.Contains(quarantined[0].Message, "no '|'") {
		t.Errorf("quarantine: %+v", quarantined)
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		if ids[ev.Kuzet.EventID] {
			t.Errorf("id %s twice", ev.Kuzet.EventID)
		}
		ids[ev.Kuzet.EventID] = true
	}
	metrics := scrape(t, f.c.OpsAddr())
	for _, want := range []string{
		`kuzet_collector_records_rejected_total{input="http",reason="syntax"} 1`,
		`kuzet_collector_records_rejected_total{input="http",reason="dropped"} 1`,
		`kuzet_collector_records_quarantined_total{input="http",reason="syntax"} 1`,
		`kuzet_collector_events_accepted_total{asset="unknown",input="tcp"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func (f *fixture) post(t *testing.T, body []byte, enc, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+f.c.InputAddr("http")+"/v1/ingest", bytes.NewReader(body))
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMalformedInputRejectedWithReason(t *testing.T) {
	f := newFixture(t, nil)
	// Oversize UDP datagram and TCP line; invalid UTF-8 stays a record the
	// pipeline judges (here: accepted as text).
	u, _ := net.Dial("udp", f.c.InputAddr("udp"))
	fmt.Fprint(u, "ems-01|"+strings.Repeat("A", 300))
	u.Close()
	tc, _ := net.Dial("tcp", f.c.InputAddr("tcp"))
	fmt.Fprint(tc, "ems-01|"+strings.Repeat("B", 300)+"\nems-01|after oversize\n")
	tc.Close()
	// A truncated octet frame at the end of an octet-counted stream.
	tc, _ = net.Dial("tcp", f.c.InputAddr("tcp"))
	fmt.Fprint(tc, "50 <13>ems-01|cut")
	tc.Close()
	// HTTP: no key, wrong key, bad gzip, body too large, wrong encoding.
	for _, c := range []struct {
		body       []byte
		enc, key   string
		status     int
		wantReason string
	}{
		{[]byte("ems-01|x\n"), "", "", 401, "unauthorized"},
		{[]byte("ems-01|x\n"), "", "wrong", 401, "unauthorized"},
		{[]byte("not gzip"), "gzip", f.key, 400, "bad_request"},
		{[]byte("ems-01|x\n"), "br", f.key, 415, "bad_request"},
		{bytes.Repeat([]byte("ems-01|big\n"), 600), "", f.key, 413, "oversize"},
	} {
		resp := f.post(t, c.body, c.enc, c.key)
		var eb struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != c.status || eb.Error.Code == "" {
			t.Errorf("%s/%s: %d %+v, want %d", c.enc, c.key, resp.StatusCode, eb, c.status)
		}
	}
	evs := f.waitEvents(t, 4)
	got := byMessage(evs)
	if _, ok := got["after oversize"]; !ok {
		t.Error("the TCP stream did not go on after an oversize line")
	}
	reasons := map[string]int{}
	for _, ev := range evs {
		if ev.Event.Kind == "pipeline_error" {
			reasons[ev.Labels["reject_reason"]]++
			if ev.Labels["reject_reason"] == ingest.ReasonOversize && !strings.HasPrefix(ev.Event.Original, "ems-01|") {
				t.Errorf("oversize record quarantined without its first bytes: %+v", ev)
			}
		}
	}
	if reasons[ingest.ReasonOversize] < 1 || reasons[ingest.ReasonTruncated] != 1 {
		t.Errorf("quarantined reasons %v", reasons)
	}
	metrics := scrape(t, f.c.OpsAddr())
	for _, want := range []string{
		`kuzet_collector_records_rejected_total{input="udp",reason="oversize"} 1`,
		`kuzet_collector_records_rejected_total{input="tcp",reason="oversize"} 1`,
		`kuzet_collector_records_rejected_total{input="tcp",reason="truncated"} 1`,
		`kuzet_collector_records_rejected_total{input="http",reason="unauthorized"} 2`,
		`kuzet_collector_records_rejected_total{input="http",reason="bad_request"} 2`,
		`kuzet_collector_records_rejected_total{input="http",reason="oversize"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestBatchIDsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	var cfg config.Collector
	f := newFixture(t, func(c *config.Collector) { c.DataDir = dir; cfg = *c })
	send := func(c *collector.Collector, msg string) {
		u, err := net.Dial("udp", c.InputAddr("udp"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(u, "ems-01|"+msg)
		u.Close()
	}
	send(f.c, "before restart")
	f.waitEvents(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Stop(ctx); err != nil {
		t.Fatal("second Stop:", err)
	}
	// A new collector on the same data dir and stream: had it restarted its
	// batch sequence, JetStream would drop its first batch as a duplicate.
	c2, err := collector.New(collector.Options{Config: cfg, Streams: streams})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c2.Stop(ctx)
	send(c2, "after restart")
	evs := f.waitEvents(t, 2)
	if _, ok := byMessage(evs)["after restart"]; !ok {
		t.Error("the restarted collector's batch was lost")
	}
}
