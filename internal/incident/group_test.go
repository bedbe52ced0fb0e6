package incident_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// txtar splits a txtar archive into its files.
func txtar(data string) map[string]string {
	files := map[string]string{}
	name := ""
	var b strings.Builder
	for _, line := range strings.SplitAfter(data, "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(strings.TrimSpace(line), " --") {
			if name != "" {
				files[name] = b.String()
			}
			name = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "-- "), " --")
			b.Reset()
			continue
		}
		if name != "" {
			b.WriteString(line)
		}
	}
	if name != "" {
		files[name] = b.String()
	}
	return files
}

// kv parses "k=v k2=v2" words; a value may hold '=' (matchers).
func kv(t *testing.T, words []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("word %q is not key=value", w)
		}
		m[k] = v
	}
	return m
}

func dur(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

func matchers(t *testing.T, s string) []incident.Matcher {
	t.Helper()
	var ms []incident.Matcher
	for _, part := range strings.Split(s, ";") {
		for _, op := range []incident.MatchOp{"=~", "!~", "!=", "="} {
			if name, val, ok := strings.Cut(part, string(op)); ok {
				ms = append(ms, incident.Matcher{Name: name, Op: op, Value: val})
				break
			}
		}
	}
	return ms
}

// timeline runs one grouping case: the "config" file sets routes, linking
// and the national stage; "timeline" lists steps in time order; the
// updates emitted (grouping and national) must match "want" line by line.
//
// Steps (times from t0):
//
//	push t=1s id=a1 org=o1 rule=R1 object=x level=high sector=s source.ip=...
//	close t=5s inc=a1     (an analyst closes the incident labelled a1)
//	reopen t=6s inc=a1
//	silence t=0s id=s1 until=1h match=source.ip=1.2.3.4
//	end t=10m             (last tick)
//
// Ticks run every "step" (config, default 100ms) and at each step time.
// Incidents are labelled by the alert that opened them; national ones by
// "nat:field=value". Want lines:
//
//	opened a1 alerts=a1,a2 between 2s and 2.5s
//	merged a3 into=a1 at 4s
//	national-opened nat:source.ip=1.2.3.4 linked=a1,a2,a3 orgs=3 sectors=1 at 4s
//	result a5 silenced=s1      (the push of a5 returned this)
func timeline(t *testing.T, files map[string]string) {
	opts := incident.GrouperOptions{}
	var nat *incident.National
	step := 100 * time.Millisecond
	for _, line := range lines(files["config"]) {
		f := strings.Fields(line)
		m := kv(t, f[1:])
		switch f[0] {
		case "route":
			r := incident.Route{Name: m["name"], GroupBy: strings.Split(m["group_by"], ","),
				GroupWait: dur(t, m["wait"]), GroupInterval: dur(t, m["interval"]), RepeatInterval: dur(t, m["repeat"])}
			if m["match"] != "" {
				r.Matchers = matchers(t, m["match"])
			}
			opts.Routes = append(opts.Routes, r)
		case "link":
			opts.Link = linkOpts(t, m)
		case "national":
			no := incident.NationalOptions{Link: linkOpts(t, m), Window: dur(t, m["window"])}
			no.MinOrgs, _ = strconv.Atoi(m["min_orgs"])
			no.MinSectors, _ = strconv.Atoi(m["min_sectors"])
			var err error
			if nat, err = incident.NewNational(no); err != nil {
				t.Fatal(err)
			}
		case "step":
			step = dur(t, m["every"])
		default:
			t.Fatalf("config: unknown %q", f[0])
		}
	}
	g, err := incident.NewGrouper(opts)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // incident id -> label
	known := map[string]incident.Incident{}
	label := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return "?" + id
	}
	byLabel := func(l string) string {
		for id, n := range names {
			if n == l {
				return id
			}
		}
		t.Fatalf("no incident labelled %s", l)
		return ""
	}
	var got []string
	var times []time.Duration
	emit := func(at time.Time, s string) {
		got = append(got, s)
		times = append(times, at.Sub(t0))
	}
	tick := func(now time.Time) {
		for _, u := range g.Tick(now) {
			known[u.Incident.ID] = u.Incident
			s := fmt.Sprintf("%s %s", u.Kind, label(u.Incident.ID))
			if u.Incident.DuplicateOf != "" {
				s += " into=" + label(u.Incident.DuplicateOf)
			}
			var as []string
			as = append(as, u.NewAlerts...)
			s += " alerts=" + strings.Join(as, ",")
			emit(now, s)
			if nat != nil && u.Kind != incident.UpdateMerged {
				for _, nu := range nat.Observe(u.Incident.Ref(), now) {
					field := sortedFirst(nu.Incident.Entities)
					nl := "nat:" + field + "=" + nu.Incident.Entities[field][0]
					names[nu.Incident.ID] = nl
					var ls []string
					for _, id := range nu.Incident.Linked {
						ls = append(ls, label(id))
					}
					slices.Sort(ls)
					emit(now, fmt.Sprintf("national-%s %s linked=%s orgs=%d sectors=%d", nu.Kind, nl,
						strings.Join(ls, ","), len(nu.Incident.Orgs), len(nu.Incident.Sectors)))
				}
			}
		}
	}
	next := time.Duration(0)
	advance := func(to time.Duration) {
		for ; next <= to; next += step {
			tick(t0.Add(next))
		}
	}
	for _, line := range lines(files["timeline"]) {
		f := strings.Fields(line)
		m := kv(t, f[1:])
		at := dur(t, m["t"])
		advance(at - 1) // ticks strictly before the step
		now := t0.Add(at)
		switch f[0] {
		case "push":
			a := incident.Alert{ID: m["id"], Org: m["org"], RuleID: m["rule"], RuleTitle: m["rule"], Level: m["level"],
				Object: m["object"], Sector: m["sector"], OISC: "oisc1", EventTime: now, DetectedAt: now,
				Entities: map[string]string{}}
			if a.Level == "" {
				a.Level = "medium"
			}
			if m["tags"] != "" {
				a.Tags = strings.Split(m["tags"], ",")
			}
			for k, v := range m {
				if strings.Contains(k, ".") {
					a.Entities[k] = v
				}
			}
			res, err := g.Add(a, now)
			switch {
			case err != nil:
				emit(now, fmt.Sprintf("result %s error=%v", a.ID, err))
			case res.Silenced != "":
				emit(now, fmt.Sprintf("result %s silenced=%s", a.ID, res.Silenced))
			case res.Opened:
				if _, ok := names[res.Incident]; !ok {
					names[res.Incident] = a.ID
				}
			}
		case "close":
			for _, u := range g.Closed(byLabel(m["inc"]), now) {
				emit(now, fmt.Sprintf("closed-flush %s alerts=%s", label(u.Incident.ID), strings.Join(u.NewAlerts, ",")))
			}
		case "reopen":
			in := known[byLabel(m["inc"])]
			g.Reopened(in, now)
		case "silence":
			s := incident.Silence{ID: m["id"], Owner: "analyst", Reason: "test", EndsAt: now.Add(dur(t, m["until"])),
				Matchers: matchers(t, m["match"])}
			if err := g.Silences().Set(s); err != nil {
				t.Fatal(err)
			}
		case "end":
		default:
			t.Fatalf("timeline: unknown step %q", f[0])
		}
		tick(now)
		next = max(next, at+1)
		if next%step != 0 {
			next = (next/step + 1) * step
		}
		if f[0] == "end" {
			break
		}
	}
	want := lines(files["want"])
	for i := range max(len(want), len(got)) {
		if i >= len(got) {
			t.Errorf("missing: %s", want[i])
			continue
		}
		if i >= len(want) {
			t.Errorf("unexpected at %s: %s", times[i], got[i])
			continue
		}
		what, when, _ := strings.Cut(want[i], " between ")
		lo, hi := time.Duration(-1), time.Duration(-1)
		if when != "" {
			a, b, _ := strings.Cut(when, " and ")
			lo, hi = dur(t, a), dur(t, b)
		} else if w, at, ok := strings.Cut(want[i], " at "); ok {
			what = w
			lo = dur(t, at)
			hi = lo
		}
		if got[i] != what {
			t.Errorf("line %d: got %q at %s, want %q", i+1, got[i], times[i], what)
			continue
		}
		if lo >= 0 && (times[i] < lo || times[i] > hi) {
			t.Errorf("line %d: %q at %s, want between %s and %s", i+1, got[i], times[i], lo, hi)
		}
	}
}

func linkOpts(t *testing.T, m map[string]string) incident.LinkOptions {
	o := incident.LinkOptions{}
	if m["fields"] != "" {
		o.Fields = strings.Split(m["fields"], ",")
	}
	if m["stop"] != "" {
		o.StopValues = strings.Split(m["stop"], ",")
	}
	if m["max"] != "" {
		o.MaxCardinality, _ = strconv.Atoi(m["max"])
	}
	o.Disabled = m["disabled"] == "true"
	return o
}

func sortedFirst(m map[string][]string) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks[0]
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestGroupingCases runs testdata/group/*.txtar (see timeline).
func TestGroupingCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/group/*.txtar")
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			timeline(t, txtar(string(data)))
		})
	}
}
