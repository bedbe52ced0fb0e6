package correlation

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

const pairRules = `title: Pair
id: corr-1
correlation: {type: event_count, rules: base, group-by: [User], timespan: 1h, condition: {gte: 2}}
---
title: Base
name: base
id: base-1
detection: {sel: {EventID: 1}, condition: sel}
`

// TestStateGaugesAndDrops: a partition's state size and group count reach
// the gauges after each batch, evictions past max_groups are counted, and
// a partition given up reads 0 again.
func TestStateGaugesAndDrops(t *testing.T) {
	rules, errs := sigma.ParseRules("r.yml", []byte(pairRules))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, rejected := correlate.Compile(rules)
	if len(rejected) > 0 {
		t.Fatal(rejected)
	}
	s := &Stage{opts: Options{Set: set, Partitions: 4, Engine: correlate.Options{MaxGroups: 10, MaxBytes: 1 << 20}}}
	s.m = newStageMetrics(s.opts.Partitions)
	reg := prometheus.NewRegistry()
	for _, c := range s.collectors() {
		reg.MustRegister(c)
	}
	p := s.newProcessor(2).(*processor)
	if err := p.Restore(nil); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var g SignalGroup
	for i := range 25 { // 25 users, one signal each: nothing fires, 15 evicted
		g.Signals = append(g.Signals, correlate.Signal{Correlation: "corr-1", Rule: "base-1", EventID: "ev-" + strconv.Itoa(i),
			Time: at.Add(time.Duration(i) * time.Second), Group: []string{"user" + strconv.Itoa(i)}})
	}
	msgs, err := SignalMessages([]SignalGroup{g}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var in []bus.StageMsg
	for _, m := range msgs {
		in = append(in, bus.StageMsg{Seq: uint64(len(in) + 1), Subject: m.Subject, Data: m.Data})
	}
	if err := p.Process(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.m.dropped.WithLabelValues("groups_evicted")); got != 15 {
		t.Errorf("groups evicted: %v, want 15", got)
	}
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	if got := gauge("kuzet_correlate_state_groups"); got != 10 {
		t.Errorf("state groups: %v, want 10", got)
	}
	if got, want := gauge("kuzet_correlate_state_bytes"), float64(p.eng.Bytes()); got != want || got <= 0 {
		t.Errorf("state bytes: %v, want the engine's %v (> 0)", got, want)
	}
	// A new owner restoring the snapshot does not count the drops again.
	state, err := p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if got := gauge("kuzet_correlate_state_bytes"); got != 0 {
		t.Errorf("state bytes after giving the partition up: %v", got)
	}
	q := s.newProcessor(2).(*processor)
	if err := q.Restore(state); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.m.dropped.WithLabelValues("groups_evicted")); got != 15 {
		t.Errorf("groups evicted after a restore: %v, want 15 still", got)
	}
	if got := gauge("kuzet_correlate_state_groups"); got != 10 {
		t.Errorf("state groups after a restore: %v, want 10", got)
	}
}
