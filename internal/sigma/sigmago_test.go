package sigma_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// comparison holds the same rules for kuzet and sigma-go, and the same
// events, with kuzet's routes (thor.yml's gating) deciding which rules run
// on which event for both.
type comparison struct {
	eng    *sigma.Engine
	routes []*sigma.Route
	// gorules[i] are sigma-go evaluators of route i's rules, by rule id.
	gorules [][]goRule
	events  []map[string]any
}

type goRule struct {
	id string
	ev *evaluator.RuleEvaluator
}

func loadComparison(tb testing.TB) *comparison {
	tb.Helper()
	root := conformance.Path(tb, "sigmahq")
	ps, err := sigma.DefaultPipelines()
	if err != nil {
		tb.Fatal(err)
	}
	var rules []*sigma.Rule
	goParsed := map[string]sigmago.Rule{}
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting"} {
		rs, _ := sigma.LoadDir(filepath.Join(root, d))
		for _, r := range rs {
			data, err := os.ReadFile(r.File)
			if err != nil {
				tb.Fatal(err)
			}
			gr, err := sigmago.ParseRule(data)
			if err != nil || r.ID == "" {
				continue // the same rules on both sides: those sigma-go parses
			}
			goParsed[r.ID] = gr
			rules = append(rules, r)
		}
	}
	eng, _, _ := sigma.Compile(rules, sigma.Options{Pipelines: ps})
	c := &comparison{eng: eng}
	for _, rt := range eng.Routes() {
		var grs []goRule
		for _, cr := range eng.RouteRules(rt) {
			grs = append(grs, goRule{id: cr.Rule.ID, ev: evaluator.ForRule(goParsed[cr.Rule.ID])})
		}
		c.routes = append(c.routes, rt)
		c.gorules = append(c.gorules, grs)
	}
	conformance.Lines(tb, filepath.Join(root, "regression_events.flat.jsonl"), func(line []byte) bool {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			tb.Fatal(err)
		}
		for k := range m {
			if strings.HasPrefix(k, "_") {
				delete(m, k)
			}
		}
		c.events = append(c.events, m)
		return true
	})
	return c
}

// goMatch runs sigma-go with the same gating and field mappings.
func (c *comparison) goMatch(ev map[string]any, fn func(id string)) {
	ctx := context.Background()
	seen := map[string]bool{}
	for i, rt := range c.routes {
		if len(c.gorules[i]) == 0 || !rt.Matches(sigma.MapEvent(ev)) {
			continue
		}
		view := ev
		if len(rt.FieldMap) > 0 {
			view = make(map[string]any, len(ev)+len(rt.FieldMap))
			for k, v := range ev {
				view[k] = v
			}
			for from, to := range rt.FieldMap {
				view[from] = ev[to]
			}
		}
		for _, gr := range c.gorules[i] {
			if seen[gr.id] {
				continue
			}
			if res, err := gr.ev.Matches(ctx, view); err == nil && res.Match {
				seen[gr.id] = true
				fn(gr.id)
			}
		}
	}
}

func (c *comparison) kuzetMatch(ev map[string]any, fn func(id string)) {
	c.eng.Match(sigma.MapEvent(ev), func(r *sigma.CompiledRule) { fn(r.Rule.ID) })
}

// sigmaGoDeviates lists rules outside the regression set on which sigma-go
// does not follow the specification, each checked by hand against the rule
// and the event kuzet matches.
var sigmaGoDeviates = map[string]string{
	// "ParentImage: null" in a filter must match only an absent or null
	// field; sigma-go lets it match the event's present ParentImage, so the
	// filter removes a true match.
	"01d2e2a1-5f09-44f7-9fc1-24faa7479b6d": "null",
	"16c37b52-b141-42a5-a3ea-bbe098444397": "null",
	"f17211f1-1f24-4d0c-829f-31e28dc93cdd": "null",
	"f59c3faf-50f3-464b-9f4c-1b67ab512d99": "null",
	// windash: "/Format:List" must match "|contains|windash: '/format:'".
	"8d63dadf-b91b-4187-87b6-34a1114577ea": "windash",
	// fieldref: Image equal to ParentImage.
	"bafd07c6-3ea5-454a-b4be-058fbb073de7": "fieldref",
}

// TestSigmaGoAgreement compares the two engines on every (event, rule)
// pair of the regression events under the whole rule set. Where they
// differ, kuzet must be the one that follows the specification: on the
// rule's own regression events kuzet matches (TestRegressionPairs), so a
// rule sigma-go misses there is sigma-go's deviation. No other difference
// is allowed.
func TestSigmaGoAgreement(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole SigmaHQ rule set twice")
	}
	c := loadComparison(t)
	_, cases := regressionCases(t)
	ownRule := map[string]bool{}
	for _, rc := range cases {
		ownRule[rc.RuleID] = true
	}
	agree, onlyKuzet, onlyGo := 0, map[string]int{}, map[string]int{}
	for _, ev := range c.events {
		k, g := map[string]bool{}, map[string]bool{}
		c.kuzetMatch(ev, func(id string) { k[id] = true })
		c.goMatch(ev, func(id string) { g[id] = true })
		for id := range k {
			if g[id] {
				agree++
			} else {
				onlyKuzet[id]++
			}
		}
		for id := range g {
			if !k[id] {
				onlyGo[id]++
			}
		}
	}
	var ids []string
	for id := range onlyKuzet {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	unexplained := 0
	for _, id := range ids {
		if !ownRule[id] && sigmaGoDeviates[id] == "" {
			unexplained++
			t.Errorf("rule %s: kuzet matches %d events sigma-go does not, and it is not a regression rule", id, onlyKuzet[id])
		}
	}
	for id, n := range onlyGo {
		unexplained++
		t.Errorf("rule %s: sigma-go matches %d events kuzet does not", id, n)
	}
	t.Logf("agreeing matches %d; sigma-go misses %d rules of the regression set on their own events; unexplained %d",
		agree, len(onlyKuzet), unexplained)
}

// BenchmarkWholeRuleSet runs the whole SigmaHQ rule set (rules sigma-go also
// parses) over the 238 regression events with thor.yml's gating, on kuzet
// and on sigma-go, and reports events/s. Run with -cpu 1. It also reports
// events per CPU second of the process (user + system, the garbage
// collector's workers included), which a machine shared with other work
// disturbs far less than the wall-clock rate.
func BenchmarkWholeRuleSet(b *testing.B) {
	c := loadComparison(b)
	for _, side := range []struct {
		name string
		run  func(map[string]any, func(string))
	}{{"kuzet", c.kuzetMatch}, {"sigma-go", c.goMatch}} {
		b.Run(side.name, func(b *testing.B) {
			n := 0
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				for _, ev := range c.events {
					side.run(ev, func(string) {})
					n++
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
			}
		})
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
