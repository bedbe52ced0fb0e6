package sigma

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
)

// bruteMatch is the reference the engine's shortcuts (route dispatch,
// literal prefilter, caches) must agree with: every route's conditions
// checked on the event, every rule of every matching route evaluated, in
// the engine's order, each rule reported once, each with the field cache
// emptied (so no rule sees values another rule's route prepared).
func (e *Engine) bruteMatch(ev Event) []string {
	var out []string
	seen := map[*CompiledRule]bool{}
	c := e.ctx(ev)
	defer e.release(c)
	fresh := func() {
		c.endEvent()
		c.startEvent(e.fields.names)
	}
	for i, rt := range e.routes {
		if !rt.matches(ev) {
			continue
		}
		c.fmap = e.routeMaps[i]
		for _, r := range e.byRoute[rt] {
			fresh()
			if !seen[r] && r.eval(c) {
				seen[r] = true
				out = append(out, r.ID())
			}
		}
	}
	c.fmap = nil
	for _, r := range e.ungated {
		fresh()
		if !seen[r] && r.eval(c) {
			seen[r] = true
			out = append(out, r.ID())
		}
	}
	return out
}

func (e *Engine) matchIDs(ev Event) []string {
	var out []string
	e.Match(ev, func(r *CompiledRule) { out = append(out, r.ID()) })
	return out
}

// TestPrefilterDifferential: over the whole SigmaHQ rule set, the engine
// reports exactly the rules, in the same order, that evaluating every
// routed rule reports, on the regression events (flat and raw), on those
// events with every value upper-cased, and on synthetic events built from
// the rules' own literals (so that most rules, and their filters, fire).
// Every rule the prefilter skips on these events is thereby shown not to
// match.
func TestPrefilterDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole SigmaHQ rule set")
	}
	root := conformance.Path(t, "sigmahq")
	ps, err := DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	var rules []*Rule
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder"} {
		rs, _ := LoadDir(filepath.Join(root, d))
		rules = append(rules, rs...)
	}
	eng, _, _ := Compile(rules, Options{Pipelines: ps})

	events := differentialEvents(t, root, eng)
	fired := map[string]bool{}
	matches := 0
	for i, ev := range events {
		got, want := eng.matchIDs(ev), eng.bruteMatch(ev)
		if !slices.Equal(got, want) {
			t.Fatalf("event %d (%v): engine matches %v, every rule evaluated matches %v", i, ev, got, want)
		}
		for _, id := range want {
			fired[id] = true
		}
		matches += len(want)
	}
	t.Logf("%d events, %d matches, %d distinct rules fired of %d", len(events), matches, len(fired), len(eng.rules))
	if len(fired) < 1000 {
		t.Errorf("only %d rules fired: the synthetic events no longer exercise the rule set", len(fired))
	}
}

// differentialEvents returns the regression events, flat and raw, their
// upper-cased copies, and synthetic events from the rules' literals.
func differentialEvents(t *testing.T, root string, eng *Engine) []Event {
	var out []Event
	files := map[string]bool{}
	conformance.Lines(t, filepath.Join(root, "regression_events.flat.jsonl"), func(line []byte) bool {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if s, ok := m["_source"].(string); ok {
			files[s] = true
		}
		out = append(out, MapEvent(m), upperEvent(m))
		return true
	})
	for file := range files {
		out = append(out, evtxEvents(t, filepath.Join(root, file))...)
	}
	// Synthetic: for each routed rule, an event of its route whose fields
	// hold values built from the rule's patterns (each search's first
	// value), plain and upper-cased.
	for _, rt := range eng.routes {
		for _, r := range eng.byRoute[rt] {
			m := map[string]any{}
			for _, s := range r.searches {
				synthFill(m, s, rt.FieldMap)
			}
			for _, c := range rt.conds {
				m[c.field] = c.values[0]
				if c.field == "EventID" {
					var n int64
					if _, err := fmt.Sscan(c.values[0], &n); err == nil {
						m[c.field] = n
					}
				}
			}
			out = append(out, MapEvent(m), upperEvent(m))
		}
	}
	return out
}

func upperEvent(m map[string]any) MapEvent {
	u := make(MapEvent, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok && !strings.HasPrefix(k, "_") {
			v = strings.ToUpper(s)
		}
		u[k] = v
	}
	return u
}

// synthFill sets the fields a search tests to values its first matcher
// accepts (as far as a literal can say), through the route's field map.
func synthFill(m map[string]any, s search, fmap map[string]string) {
	switch x := s.(type) {
	case andSearch:
		for _, e := range x {
			synthFill(m, e, fmap)
		}
	case orSearch:
		if len(x) > 0 {
			synthFill(m, x[0], fmap)
		}
	case *keywordSearch:
		if len(x.matchers) > 0 {
			if v, ok := synthValue(x.matchers[0]); ok {
				m["SyntheticKeyword"] = fmt.Sprint(v)
			}
		}
	case *fieldSearch:
		field := x.field
		if f, ok := fmap[field]; ok {
			field = f
		}
		if x.exists != nil {
			if *x.exists {
				m[field] = "present"
			}
			return
		}
		if len(x.matchers) == 0 {
			return
		}
		if v, ok := synthValue(x.matchers[0]); ok {
			m[field] = v
		}
	}
}

func synthValue(vm valueMatcher) (any, bool) {
	switch x := vm.(type) {
	case *strMatcher:
		if len(x.pats) == 0 {
			return nil, false
		}
		p := x.pats[0]
		switch p.kind {
		case pExact:
			return p.lit, true
		case pPrefix:
			return p.lit + "tail", true
		case pSuffix:
			return `c:\head` + p.lit, true
		case pContains:
			return "head " + p.lit + " tail", true
		case pAny:
			return "anything", true
		}
		var b strings.Builder
		for _, seg := range p.segs {
			for _, tk := range seg {
				switch tk.kind {
				case tLit:
					b.WriteString(tk.lit)
				case tOne:
					b.WriteByte('x')
				case tDash:
					b.WriteByte('-')
				}
			}
			b.WriteString("x")
		}
		return b.String(), true
	case *numMatcher:
		return int64(x.n), true
	case boolMatcher:
		return bool(x), true
	case anyMatcher:
		if len(x) > 0 {
			return synthValue(x[0])
		}
	case *cidrMatcher:
		return x.p.Addr().String(), true
	}
	return nil, false
}

// TestNeedKeepsClauses: an AND keeps the necessary clauses of both sides
// (so a rule whose one selection is on every event is still skipped
// without the other's literal), and an OR distributes over them.
func TestNeedKeepsClauses(t *testing.T) {
	rules, errs := ParseRules("t.yml", []byte(`title: t
id: 5e0c5b8e-0000-4000-8000-000000000002
logsource: {product: windows, category: process_creation}
detection:
  img:
    Image|endswith: ['\csi.exe', '\rcsi.exe']
  company:
    Company: 'Microsoft Corporation'
  other:
    CommandLine|contains: 'xyz'
  condition: (img and company) or other
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ps, err := DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	eng, rej, _ := Compile(rules, Options{Pipelines: ps})
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	var got []string
	for _, cl := range eng.rules[0].need {
		var lits []string
		for _, a := range cl.atoms {
			lits = append(lits, a.field+":"+a.lit)
		}
		got = append(got, strings.Join(lits, "|"))
	}
	want := []string{`Image:\csi.exe|Image:\rcsi.exe|CommandLine:xyz`, `Company:microsoft corporation|CommandLine:xyz`}
	if !slices.Equal(got, want) {
		t.Errorf("clauses %q, want %q", got, want)
	}
	base := MapEvent{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": int64(1), "Company": "Microsoft Corporation"}
	for img, n := range map[string]int{`C:\x\csi.exe`: 1, `C:\x\cmd.exe`: 0} {
		ev := maps.Clone(base)
		ev["Image"] = img
		if got := eng.matchIDs(ev); len(got) != n {
			t.Errorf("Image %s: matches %v", img, got)
		}
	}
}

// evtxEvents reads an evtx_dump file (pretty-printed objects one after
// another) and flattens each event (EvtxEvents for the external tests).
func evtxEvents(tb testing.TB, path string) []Event {
	tb.Helper()
	var out []Event
	for _, m := range conformance.JSONValues(tb, path) {
		dec := json.NewDecoder(bytes.NewReader(m))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			tb.Fatal(err)
		}
		flat, _, err := winevent.Flatten(doc)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, MapEvent(flat))
	}
	return out
}
