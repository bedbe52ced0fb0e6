package correlate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

var update = flag.Bool("update", false, "rewrite the want (and scan) sections of testdata/*.txtar")

// archive is a txtar file: a comment, then named sections in order.
type archive struct {
	comment string
	names   []string
	files   map[string]string
}

func parseTxtar(data string) *archive {
	a := &archive{files: map[string]string{}}
	name := ""
	var b strings.Builder
	flush := func() {
		if name == "" {
			a.comment = b.String()
		} else {
			a.files[name] = b.String()
			a.names = append(a.names, name)
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(data, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			flush()
			name = strings.TrimSuffix(strings.TrimPrefix(t, "-- "), " --")
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

func (a *archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, n := range a.names {
		fmt.Fprintf(&b, "-- %s --\n", n)
		s := a.files[n]
		b.WriteString(s)
		if s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func (a *archive) set(name, content string) {
	if _, ok := a.files[name]; !ok {
		a.names = append(a.names, name)
	}
	a.files[name] = content
}

// testCase is a compiled case.
type testCase struct {
	rules  *sigma.Engine
	set    *correlate.Set
	opts   correlate.Options
	events []map[string]any
}

func loadCase(t testing.TB, a *archive) *testCase {
	t.Helper()
	rules, errs := sigma.ParseRules("rules.yml", []byte(a.files["rules.yml"]))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng, rej, _ := sigma.Compile(rules, sigma.Options{NoGating: true})
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	set, crej := correlate.Compile(rules)
	if len(crej) > 0 {
		t.Fatal(crej[0].Err)
	}
	tc := &testCase{rules: eng, set: set, opts: correlate.Options{NoLateness: true, MaxEventIDs: 1000}}
	for _, line := range strings.Split(a.files["options"], "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "lateness":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatal(err)
			}
			tc.opts.Lateness, tc.opts.NoLateness = d, d == 0
		case "max_groups":
			tc.opts.MaxGroups, _ = strconv.Atoi(v)
		case "max_bytes":
			n, _ := strconv.Atoi(v)
			tc.opts.MaxBytes = int64(n)
		case "max_event_ids":
			tc.opts.MaxEventIDs, _ = strconv.Atoi(v)
		default:
			t.Fatalf("unknown option %q", k)
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(a.files["events.ndjson"]), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		tc.events = append(tc.events, m)
	}
	return tc
}

func ts(t time.Time) string { return t.UTC().Format("01-02T15:04:05.999") }

func traceUpdate(u correlate.Update) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %v v%d count=%d window=(%s,%s] first=%s metric=%g events=%v", u.Status, u.Rule, u.Group, u.Version,
		u.Count, ts(u.WindowStart), ts(u.WindowEnd), ts(u.FirstSeen), u.Metric, u.EventIDs)
	if len(u.Values) > 0 {
		fmt.Fprintf(&b, " values=%v", u.Values)
	}
	if len(u.Shares) > 1 || len(u.Shares) == 1 && u.Shares[0].Share.Org != "" {
		for _, s := range u.Shares {
			fmt.Fprintf(&b, " share[%s]=%d%v", s.Share.Org, s.Count, s.EventIDs)
		}
	}
	if u.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", u.Reason)
	}
	fmt.Fprintf(&b, " id=%s", u.AlertID.String()[:8])
	return b.String()
}

// run feeds the case's events to an engine in file order; with
// snapshotEvery > 0 it snapshots the engine after every that many events
// and continues in a new engine restored from the snapshot.
func (tc *testCase) run(t testing.TB, snapshotEvery int) string {
	eng := correlate.NewEngine(tc.set, tc.opts)
	var out []string
	emit := func(us []correlate.Update) {
		for _, u := range us {
			out = append(out, traceUpdate(u))
		}
	}
	for n, doc := range tc.events {
		ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(doc["@timestamp"]))
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		org, _ := doc["_org"].(string)
		ev := sigma.MapEvent(doc)
		tc.rules.Match(ev, func(r *sigma.CompiledRule) {
			for _, c := range tc.set.Feeds(r.ID()) {
				sig, err := c.Signal(r.ID(), strconv.Itoa(n), ts, correlate.EventFields(ev), correlate.Share{Org: org})
				if err != nil {
					out = append(out, fmt.Sprintf("rejected %d %s: %v", n, c.ID, err))
					continue
				}
				us, err := eng.Apply(sig)
				emit(us)
				if err != nil {
					var se *correlate.SignalError
					if !errors.As(err, &se) {
						t.Fatalf("event %d: %v", n, err)
					}
					out = append(out, fmt.Sprintf("rejected %d %s: %s", n, c.ID, se.Reason))
				}
			}
		})
		if snapshotEvery > 0 && (n+1)%snapshotEvery == 0 {
			data, err := eng.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			eng = correlate.NewEngine(tc.set, tc.opts)
			if err := eng.Restore(data); err != nil {
				t.Fatal(err)
			}
			again, _ := eng.Snapshot()
			if !bytes.Equal(again, data) {
				t.Fatalf("event %d: restored snapshot differs", n)
			}
		}
	}
	for _, u := range eng.Episodes() {
		out = append(out, "open "+traceUpdate(u))
	}
	c := eng.Counters()
	out = append(out, fmt.Sprintf("counters applied=%d duplicates=%d late=%d invalid=%d evicted=%d trimmed=%d opened=%d closed=%d groups=%d",
		c.Applied, c.Duplicates, c.Late, c.Invalid, c.Evicted, c.Trimmed, c.Opened, c.Closed, eng.Groups()))
	return strings.Join(out, "\n") + "\n"
}

// TestCases runs testdata/*.txtar: Sigma rules (detection and correlation),
// events with their times, and the engine's updates in order ("want").
// Each case also runs with a snapshot and restore after every event and
// must give the same updates. go test -update rewrites want.
func TestCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) < 10 {
		t.Fatalf("%d cases", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a := parseTxtar(string(data))
			tc := loadCase(t, a)
			got := tc.run(t, 0)
			if *update {
				a.set("want", got)
				if err := os.WriteFile(f, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := a.files["want"]; got != want {
				t.Errorf("updates:\n%s\nwant:\n%s", got, want)
			}
			if again := tc.run(t, 1); again != got {
				t.Errorf("with a snapshot and restore after every event:\n%s\nuninterrupted:\n%s", again, got)
			}
		})
	}
}
