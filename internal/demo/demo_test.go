package demo_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/demo"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/pipeline/parsecli"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/sigma/sigmacli"
)

// TestFeedAttacksBecomeAFewAlerts runs one cycle of the feed, at the
// default 20 records per second, through what the collectors and the ncc
// do (kuzet parse with the demo registry and each record's OISC, then
// kuzet sigma scan with kuzet's rule pack, in-process) and checks that the
// brute-force burst and the scan become a handful of correlation alerts:
// fewer than 1% of the brute-force attempts, each about the attack's own
// address, none from the background.
func TestFeedAttacksBecomeAFewAlerts(t *testing.T) {
	root := conformance.ModuleRoot(t)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	start := at
	gen := demo.NewGenerator(5, func() time.Time { at = at.Add(50 * time.Millisecond); return at })
	type stream struct{ oisc, input string }
	raw := map[stream]*bytes.Buffer{}
	for range demo.CycleRecords {
		r := gen.Next()
		k := stream{r.OISC, r.Input}
		if raw[k] == nil {
			raw[k] = &bytes.Buffer{}
		}
		raw[k].Write(r.Data)
		raw[k].WriteByte('\n')
	}
	dir := t.TempDir()
	type timed struct {
		at   time.Time
		line []byte
	}
	var evs []timed
	for k, b := range raw {
		in := filepath.Join(dir, k.oisc+"."+k.input)
		if err := os.WriteFile(in, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, stderr bytes.Buffer
		args := []string{"--pipeline", k.input, "--registry", filepath.Join(root, "configs", "registry.yaml"), "--oisc", k.oisc, in}
		if code := parsecli.Main(args, nil, &out, &stderr); code != 0 {
			t.Fatalf("kuzet parse %s: exit %d: %s", in, code, stderr.String())
		}
		for line := range bytes.Lines(out.Bytes()) {
			var doc struct {
				At time.Time `json:"@timestamp"`
			}
			if err := json.Unmarshal(line, &doc); err != nil {
				t.Fatal(err)
			}
			// Every record's time is the feed's clock (FortiGate's
			// date and time are local, Almaty).
			if doc.At.Before(start) || doc.At.After(at) {
				t.Fatalf("%s: event time %v outside the feed's %v..%v: %s", in, doc.At, start, at, line)
			}
			evs = append(evs, timed{doc.At, line})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	var events bytes.Buffer
	for _, e := range evs {
		events.Write(e.line)
	}
	var out, stderr bytes.Buffer
	args := []string{"scan", "--rules", filepath.Join(root, "pipelines", "rules"), "--events", "-"}
	if code := sigmacli.Main(args, &events, &out, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("kuzet sigma scan: exit %d: %s", code, stderr.String())
	}
	titles := map[string]int{}
	alerts := 0
	for line := range bytes.Lines(out.Bytes()) {
		var l struct {
			Title       string            `json:"title"`
			Correlation bool              `json:"correlation"`
			Group       map[string]string `json:"group"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		if !l.Correlation {
			continue
		}
		alerts++
		titles[l.Title]++
		// The first cycle's attacker and scanner (see demo.go).
		if ip := l.Group["source.ip"]; ip != "185.220.101.4" && ip != "91.240.118.172" {
			t.Errorf("alert from the background: %s", line)
		}
	}
	for _, want := range []string{"Password Guessing Against A Critical Object", "Password Guessing Against An OT Gateway",
		"Password Spraying Against Critical Objects", "One Source Scanning Many Critical Objects"} {
		if titles[want] == 0 {
			t.Errorf("no %q alert", want)
		}
	}
	if alerts*100 >= demo.BurstAttempts {
		t.Errorf("%d correlation alerts for %d brute-force attempts: not under 1%%", alerts, demo.BurstAttempts)
	}
	t.Logf("%d records, %d correlation alerts %v, %d brute-force attempts", demo.CycleRecords, alerts, titles, demo.BurstAttempts)
}

// TestDemoTimes runs the demo feed through the pipelines as the collectors of
// `kuzet run` do (zone Asia/Almaty, the demo registry's object zones): every
// event's @timestamp is within a second of its receive time, and comes from
// the record's own time; the objects' zones read some of them.
func TestDemoTimes(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.LoadFile(filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	matchers := map[string]*registry.Matcher{}
	now := time.Date(2026, 11, 24, 23, 30, 1, 250e6, time.UTC) // after midnight in Almaty
	g := demo.NewGenerator(7, func() time.Time { return now })
	zones := map[string]int{}
	for i := 0; i < 200; i++ {
		rec := g.Next()
		m := matchers[rec.OISC]
		if m == nil {
			m = registry.NewMatcher(reg, rec.OISC)
			matchers[rec.OISC] = m
		}
		st, err := set.NewStream(rec.Input, pipeline.StreamOptions{Location: almaty, ZoneSource: event.ZoneCollector,
			DeviceZone: m.Zone, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		var got *event.Event
		if err := st.Push(ingest.Record{Data: rec.Data, ReceivedAt: now}, func(ev *event.Event) error { got = ev; return nil }); err != nil {
			t.Fatalf("%s: %v", rec.Data, err)
		}
		if d := got.Timestamp.Sub(now); d < -time.Second || d > time.Second || got.Kuzet.TimeSource != event.TimeEvent {
			t.Fatalf("%s: @timestamp %v (%s) is %v from received_at %v\n%s", got.Kuzet.SourceType, got.Timestamp,
				got.Kuzet.TimeSource, d, now, rec.Data)
		}
		zones[got.Kuzet.TimeZone]++
	}
	if zones[event.ZoneDevice] == 0 || zones[event.ZoneCollector] == 0 || zones[event.ZoneRecord] == 0 {
		t.Errorf("zones that read @timestamp: %v, want some of each of device, collector and record", zones)
	}
}
