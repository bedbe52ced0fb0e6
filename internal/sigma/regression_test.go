package sigma_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

type regressionCase struct {
	RuleID     string `json:"rule_id"`
	RulePath   string `json:"rule_path"`
	EventsFile string `json:"events_file"`
	MinMatches int    `json:"min_matches"`
}

func regressionCases(t *testing.T) (string, []regressionCase) {
	t.Helper()
	root := conformance.Path(t, "sigmahq")
	f, err := os.Open(filepath.Join(root, "regression_expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []regressionCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c regressionCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return root, out
}

// flatEvents reads regression_events.flat.jsonl by source file.
func flatEvents(t *testing.T, root string) map[string][]sigma.Event {
	t.Helper()
	out := map[string][]sigma.Event{}
	conformance.Lines(t, filepath.Join(root, "regression_events.flat.jsonl"), func(line []byte) bool {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		src := m["_source"].(string)
		out[src] = append(out[src], sigma.MapEvent(m))
		return true
	})
	return out
}

// TestRegressionPairs runs SigmaHQ's 202 regression pairs as its CI does:
// each rule, with log-source gating from the shipped pipelines (thor.yml's
// mapping), must fire at least min_matches times on its own events, read
// raw (evtx_dump) and flat.
func TestRegressionPairs(t *testing.T) {
	root, cases := regressionCases(t)
	if len(cases) != 202 {
		t.Fatalf("%d regression pairs, want 202", len(cases))
	}
	ps, err := sigma.DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	flat := flatEvents(t, root)
	passRaw, passFlat := 0, 0
	for _, c := range cases {
		data, err := os.ReadFile(filepath.Join(root, c.RulePath))
		if err != nil {
			t.Fatal(err)
		}
		rules, errs := sigma.ParseRules(c.RulePath, data)
		if len(errs) > 0 {
			t.Errorf("%s: %v", c.RulePath, errs)
			continue
		}
		eng, rej, _ := sigma.Compile(rules, sigma.Options{Pipelines: ps})
		if len(rej) > 0 {
			t.Errorf("%s: rejected: %v", c.RulePath, rej[0].Err)
			continue
		}
		count := func(evs []sigma.Event) int {
			n := 0
			for _, ev := range evs {
				eng.Match(ev, func(r *sigma.CompiledRule) {
					if r.Rule.ID == c.RuleID {
						n++
					}
				})
			}
			return n
		}
		raw := count(sigma.EvtxEvents(t, filepath.Join(root, c.EventsFile)))
		fl := count(flat[c.EventsFile])
		if raw >= c.MinMatches {
			passRaw++
		} else {
			t.Errorf("%s: %d matches on the raw events, want at least %d", c.RulePath, raw, c.MinMatches)
		}
		if fl >= c.MinMatches {
			passFlat++
		} else {
			t.Errorf("%s: %d matches on the flat events, want at least %d", c.RulePath, fl, c.MinMatches)
		}
	}
	t.Logf("regression pairs passing: %d/202 raw, %d/202 flat", passRaw, passFlat)
}
