package correlate_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

const benchRules = `title: Count
id: count
correlation: {type: event_count, rules: a, group-by: [User], timespan: 1m, condition: {gte: %d}}
---
title: Temporal
id: temporal
correlation: {type: temporal, rules: [a, b, c], group-by: [User], timespan: 1m}
---
title: A
id: a
detection: {sel: {x: 1}, condition: sel}
---
title: B
id: b
detection: {sel: {x: 2}, condition: sel}
---
title: C
id: c
detection: {sel: {x: 3}, condition: sel}
`

// BenchmarkApply measures signals per second through a window update, in
// time order with 1ms between signals, over 1000 groups (users): each group
// sees a signal every second, 60 in a window.
func BenchmarkApply(b *testing.B) {
	const groups, pool = 1000, 1 << 18
	ids := make([]string, pool)
	users := make([][]string, groups)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	for i := range users {
		users[i] = []string{fmt.Sprintf("user%04d", i)}
	}
	for _, c := range []struct {
		name, corr string
		gte        int
	}{
		{"event_count/quiet", "count", 1 << 30}, // never fires: window upkeep only
		{"event_count/firing", "count", 5},      // every group in an episode: one update per signal
		{"temporal", "temporal", 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			rules, _ := sigma.ParseRules("b.yml", []byte(fmt.Sprintf(benchRules, c.gte)))
			set, rej := correlate.Compile(rules)
			if len(rej) > 0 {
				b.Fatal(rej[0].Err)
			}
			eng := correlate.NewEngine(set, correlate.Options{Lateness: time.Second})
			inputs := []string{"a"}
			if c.corr == "temporal" {
				inputs = []string{"a", "b", "c"}
			}
			start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g := i % groups
				sig := correlate.Signal{Correlation: c.corr, Rule: inputs[(i/groups)%len(inputs)], EventID: ids[i%pool],
					Time: start.Add(time.Duration(i) * time.Millisecond), Group: users[g]}
				if _, err := eng.Apply(sig); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signals/s")
			b.ReportMetric(float64(eng.Bytes())/float64(max(eng.Groups(), 1)), "state-bytes/group")
		})
	}
}

// BenchmarkSnapshot measures writing a checkpoint of 10,000 groups of 60
// signals each (600,000 entries, with shares), and its bytes.
func BenchmarkSnapshot(b *testing.B) {
	rules, _ := sigma.ParseRules("b.yml", []byte(fmt.Sprintf(benchRules, 1<<30)))
	set, rej := correlate.Compile(rules)
	if len(rej) > 0 {
		b.Fatal(rej[0].Err)
	}
	const groups = 10000
	eng := correlate.NewEngine(set, correlate.Options{Lateness: time.Hour, MaxGroups: 2 * groups, MaxBytes: 1 << 30})
	shares := []correlate.Share{{Org: "altyn-grid", Object: "altyn-scada", Sector: "energy", OISC: "oisc-almaty"},
		{Org: "kaz-bank", Object: "kaz-bank-core", Sector: "banking", OISC: "oisc-astana"}}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 * groups {
		if _, err := eng.Apply(correlate.Signal{Correlation: "count", Rule: "a", EventID: fmt.Sprintf("0b7c1e2a-%08d", i),
			Time: start.Add(time.Duration(i) * time.Millisecond), Group: []string{fmt.Sprintf("user%05d", i%groups)},
			Share: shares[i%2]}); err != nil {
			b.Fatal(err)
		}
	}
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		data, err := eng.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		n = len(data)
	}
	b.ReportMetric(float64(n), "bytes")
	b.ReportMetric(float64(eng.Bytes()), "state-bytes")
}
