package correlate_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

func compile(t *testing.T, y string) (*correlate.Set, []sigma.Rejected) {
	t.Helper()
	rules, errs := sigma.ParseRules("r.yml", []byte(y))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return correlate.Compile(rules)
}

const pair = `title: Pair
id: corr-1
correlation: {type: event_count, rules: base, group-by: [User], timespan: 1h, condition: {gte: 2}}
---
title: Base
name: base
id: base-1
detection: {sel: {EventID: 1}, condition: sel}
---
title: Other
id: other-1
detection: {sel: {EventID: 2}, condition: sel}
`

func TestPartitionIsStable(t *testing.T) {
	// Pinned: a change here moves every group to another partition.
	for _, c := range []struct {
		rule   string
		values []string
		n      int
		want   int
	}{
		{"corr-1", []string{"alice"}, 16, 3},
		{"corr-1", nil, 1, 0},
	} {
		if got := correlate.Partition(c.rule, c.values, c.n); got != c.want {
			t.Errorf("Partition(%q, %q, %d) = %d, want %d", c.rule, c.values, c.n, got, c.want)
		}
	}
	pinned := map[string]int{"alice": 0, "bob": 0, "carol": 0}
	for v := range pinned {
		pinned[v] = correlate.Partition("corr-1", []string{v}, 7)
	}
	if got := [3]int{pinned["alice"], pinned["bob"], pinned["carol"]}; got != [3]int{3, 0, 3} {
		t.Errorf("partitions of alice, bob, carol of 7: %v, want [3 0 3] (FNV-1a 64, computed independently)", got)
	}
	// The separator keeps ("ab","c") and ("a","bc") apart.
	if correlate.Partition("r", []string{"ab", "c"}, 1<<30) == correlate.Partition("r", []string{"a", "bc"}, 1<<30) {
		t.Error("value boundaries do not change the hash")
	}
}

func TestAlertIDIsDeterministic(t *testing.T) {
	at := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	id := correlate.AlertID("corr-1", []string{"alice"}, at)
	if id.String() != "be91c3bf-97ba-5f88-9a49-dfb044d6671c" || id.Version() != 5 { // uuid5 computed with Python
		t.Errorf("id %s", id)
	}
	if id != correlate.AlertID("corr-1", []string{"alice"}, at.In(time.FixedZone("x", 3600))) {
		t.Error("the zone changes the id")
	}
	if id == correlate.AlertID("corr-1", []string{"alice"}, at.Add(time.Nanosecond)) ||
		id == correlate.AlertID("corr-1", []string{"bob"}, at) || id == correlate.AlertID("corr-2", []string{"alice"}, at) {
		t.Error("different alerts share an id")
	}
}

func TestGenerateAndReferences(t *testing.T) {
	set, rej := compile(t, pair)
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	if !set.Referenced("base-1") || set.Generates("base-1") {
		t.Error("base-1: referenced with generate: false must not generate")
	}
	if set.Referenced("other-1") || !set.Generates("other-1") || !set.Generates("corr-1") {
		t.Error("unreferenced rules generate")
	}
	set, _ = compile(t, strings.Replace(pair, "condition: {gte: 2}}", "condition: {gte: 2}, generate: true}", 1))
	if !set.Generates("base-1") {
		t.Error("generate: true")
	}
	if fs := set.Feeds("base-1"); len(fs) != 1 || fs[0].ID != "corr-1" {
		t.Errorf("feeds %v", fs)
	}
}

func TestCompileRejects(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`title: A
correlation: {type: event_count, rules: nothere, timespan: 1h, condition: {gte: 2}}`, `rule "nothere": no rule has this id or name`},
		{`title: A
name: a
correlation: {type: event_count, rules: b, timespan: 1h, condition: {gte: 2}}
---
title: B
name: b
correlation: {type: event_count, rules: a, timespan: 1h, condition: {gte: 2}}`, "refers back to itself"},
		{`title: Outer
correlation: {type: event_count, rules: inner, group-by: [Host], timespan: 1h, condition: {gte: 2}}
---
title: Inner
name: inner
correlation: {type: event_count, rules: base, group-by: [User], timespan: 1h, condition: {gte: 2}}
---
title: Base
name: base
detection: {sel: {EventID: 1}, condition: sel}`, `field "Host" is not among the group-by fields [User]`},
		{`title: A
correlation: {type: temporal, rules: [base, base2], group-by: [ip], timespan: 1h, aliases: {ip: {nope: x}}}
---
title: Base
name: base
detection: {sel: {EventID: 1}, condition: sel}
---
title: Base2
name: base2
detection: {sel: {EventID: 2}, condition: sel}`, `alias "ip" names rule "nope"`},
		{`title: A
correlation: {type: temporal, rules: [base, base], timespan: 1h}
---
title: Base
name: base
detection: {sel: {EventID: 1}, condition: sel}`, "referenced twice"},
	} {
		_, rej := compile(t, c.yaml)
		if len(rej) == 0 || !strings.Contains(rej[0].Err.Error(), c.want) {
			t.Errorf("rejections %v, want %q", rej, c.want)
		}
	}
}

func TestApplyOnceAndErrors(t *testing.T) {
	set, _ := compile(t, pair)
	eng := correlate.NewEngine(set, correlate.Options{Lateness: time.Minute})
	at := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	sig := correlate.Signal{Correlation: "corr-1", Rule: "base-1", EventID: "e1", Time: at, Group: []string{"alice"}}
	if us, err := eng.Apply(sig); err != nil || len(us) != 0 {
		t.Fatal(us, err)
	}
	// A redelivery changes nothing: no episode from one event seen twice.
	if us, err := eng.Apply(sig); err != nil || len(us) != 0 || eng.Counters().Duplicates != 1 {
		t.Fatalf("redelivery: %v %v %+v", us, err, eng.Counters())
	}
	sig.EventID, sig.Time = "e2", at.Add(time.Minute)
	us, err := eng.Apply(sig)
	if err != nil || len(us) != 1 || us[0].Status != correlate.StatusOpened || us[0].Count != 2 {
		t.Fatalf("second event: %v %v", us, err)
	}
	if us, _ := eng.Apply(sig); len(us) != 0 {
		t.Fatalf("redelivery in an episode: %v", us)
	}
	// Late: more than the lateness behind the latest time.
	late := sig
	late.EventID, late.Time = "e0", at.Add(-time.Second)
	if _, err := eng.Apply(late); !errors.Is(err, correlate.ErrLate) || eng.Counters().Late != 1 {
		t.Fatalf("late: %v %+v", err, eng.Counters())
	}
	for _, bad := range []correlate.Signal{
		{Correlation: "nope", Rule: "base-1", EventID: "x", Time: at},
		{Correlation: "corr-1", Rule: "other-1", EventID: "x", Time: at, Group: []string{"a"}},
		{Correlation: "corr-1", Rule: "base-1", EventID: "x", Time: at.Add(time.Minute)},
	} {
		var se *correlate.SignalError
		if _, err := eng.Apply(bad); !errors.As(err, &se) || se.Reason == correlate.ReasonLate {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if eng.Counters().Invalid != 3 {
		t.Errorf("%+v", eng.Counters())
	}
	// The watermark closes the episode after one quiet timespan.
	if us := eng.Advance(at.Add(time.Minute + time.Hour - time.Nanosecond)); len(us) != 0 {
		t.Fatalf("closed early: %v", us)
	}
	us = eng.Advance(at.Add(time.Minute + time.Hour))
	if len(us) != 1 || us[0].Status != correlate.StatusClosed || us[0].Reason != correlate.ReasonQuiet || us[0].Version != 2 {
		t.Fatalf("advance: %+v", us)
	}
	if eng.Groups() != 0 || eng.Bytes() != 0 {
		t.Errorf("state left: %d groups, %d bytes", eng.Groups(), eng.Bytes())
	}
}

func TestRestoreRejectsGarbage(t *testing.T) {
	set, _ := compile(t, pair)
	eng := correlate.NewEngine(set, correlate.Options{})
	for _, bad := range []string{"", "{", `{"v":2}`} {
		if err := eng.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%q) succeeded", bad)
		}
	}
}

// TestChainOfThree: each episode feeds the next level exactly once.
func TestChainOfThree(t *testing.T) {
	set, rej := compile(t, `title: L3
id: l3
correlation: {type: event_count, rules: l2, group-by: [User], timespan: 1h, condition: {gte: 1}}
---
title: L2
id: l2
correlation: {type: event_count, rules: l1, group-by: [User], timespan: 1h, condition: {gte: 1}}
---
title: L1
id: l1
correlation: {type: event_count, rules: base-1, group-by: [User], timespan: 1h, condition: {gte: 2}}
---
title: Base
id: base-1
detection: {sel: {EventID: 1}, condition: sel}
`)
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	eng := correlate.NewEngine(set, correlate.Options{})
	at := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	var opened []string
	for i := 0; i < 2; i++ {
		us, err := eng.Apply(correlate.Signal{Correlation: "l1", Rule: "base-1", EventID: strconv.Itoa(i), Time: at, Group: []string{"alice"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			opened = append(opened, u.Rule+":"+string(u.Status))
		}
	}
	if got := strings.Join(opened, " "); got != "l1:opened l2:opened l3:opened" {
		t.Errorf("updates %s", got)
	}
	if c := eng.Counters(); c.Duplicates != 0 || c.Applied != 4 {
		t.Errorf("%+v", c)
	}
}
