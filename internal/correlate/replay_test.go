package correlate_test

import (
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
)

const mixed = `title: Count
id: count
correlation: {type: event_count, rules: a, group-by: [User], timespan: 1m, condition: {gte: 3, lt: 9}}
---
title: Distinct
id: distinct
correlation: {type: value_count, rules: [a, b], group-by: [User], timespan: 2m, condition: {field: Host, gte: 2}}
---
title: Ordered
id: ordered
correlation: {type: temporal_ordered, rules: [a, b], group-by: [User], timespan: 30s}
---
title: Chain
id: chain
correlation: {type: event_count, rules: [ordered], group-by: [User], timespan: 5m, condition: {gte: 2}}
---
title: A
id: a
detection: {sel: {x: 1}, condition: sel}
---
title: B
id: b
detection: {sel: {x: 2}, condition: sel}
`

type replaySignal struct {
	sig  correlate.Signal
	late bool
}

// replay feeds random signals (out of order within and beyond the
// lateness, redeliveries, four correlations, a chain) to an engine; with
// every > 0 it continues in a restored engine after every that many signals.
func replay(t *testing.T, set *correlate.Set, sigs []correlate.Signal, o correlate.Options, every int, noChain bool) []string {
	o.NoChain = noChain
	eng := correlate.NewEngine(set, o)
	var out []string
	versions := map[string]uint64{}
	var apply func(s correlate.Signal)
	apply = func(s correlate.Signal) {
		us, err := eng.Apply(s)
		us = slices.Clone(us) // apply below reuses the engine's slice
		if err != nil {
			out = append(out, "error "+err.Error())
		}
		for _, u := range us {
			id := u.AlertID.String()
			if u.Version != versions[id]+1 {
				t.Fatalf("%s: version %d after %d", id, u.Version, versions[id])
			}
			versions[id] = u.Version
			if u.Count < len(u.EventIDs) || u.LastSeen.Before(u.FirstSeen) {
				t.Fatalf("bad update %+v", u)
			}
			out = append(out, fmt.Sprintf("%+v", u))
			if noChain {
				for _, cs := range set.Chained(u) {
					apply(cs)
				}
			}
		}
	}
	for i, s := range sigs {
		apply(s)
		if every > 0 && i%every == every-1 {
			data, err := eng.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			eng = correlate.NewEngine(set, o)
			if err := eng.Restore(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	out = append(out, fmt.Sprintf("%+v", eng.Counters()))
	return out
}

// TestRandomReplay: the same signals give the same updates uninterrupted,
// with a snapshot and restore every few signals, and with chains routed by
// the caller (NoChain and Set.Chained).
func TestRandomReplay(t *testing.T) {
	set, rej := compile(t, mixed)
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	rng := rand.New(rand.NewSource(19))
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var sigs []correlate.Signal
	for i := 0; i < 1500; i++ {
		at = at.Add(time.Duration(rng.Intn(4000)) * time.Millisecond)
		ts := at
		if rng.Intn(10) == 0 {
			ts = at.Add(-time.Duration(rng.Intn(45)) * time.Second) // within or beyond the 30s lateness
		}
		rule := []string{"a", "b"}[rng.Intn(2)]
		user := []string{"u" + strconv.Itoa(rng.Intn(6))}
		host := "h" + strconv.Itoa(rng.Intn(3))
		id := strconv.Itoa(i)
		if i > 0 && rng.Intn(20) == 0 { // a redelivery of the previous signal
			sigs = append(sigs, sigs[len(sigs)-1])
			continue
		}
		for _, c := range set.Feeds(rule) {
			s := correlate.Signal{Correlation: c.ID, Rule: rule, EventID: id, Time: ts, Group: user}
			if c.ID == "distinct" {
				s.Value = host
			}
			sigs = append(sigs, s)
		}
	}
	o := correlate.Options{Lateness: 30 * time.Second, MaxGroups: 10}
	want := replay(t, set, sigs, o, 0, false)
	if len(want) < 500 {
		t.Fatalf("only %d lines", len(want))
	}
	for _, c := range []struct {
		name    string
		every   int
		noChain bool
	}{{"again", 0, false}, {"restore every 7", 7, false}, {"restore every 2", 2, false}, {"caller routes chains", 0, true}} {
		got := replay(t, set, sigs, o, c.every, c.noChain)
		if len(got) != len(want) {
			t.Errorf("%s: %d lines, want %d", c.name, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: line %d:\n%s\nwant\n%s", c.name, i, got[i], want[i])
				break
			}
		}
	}
	t.Logf("%d lines; %s", len(want), want[len(want)-1])
}
