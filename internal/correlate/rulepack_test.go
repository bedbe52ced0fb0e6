package correlate_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/pipeline/parsecli"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/sigma"
	"github.com/kuzet-kz/kuzet/internal/sigma/sigmacli"
)

// The rule pack's tests: pipelines/rules/testdata/*.txtar. Each case holds
// raw records in sections named "fires OISC PIPELINE" and "quiet OISC
// PIPELINE". They go through what the collector and the ncc do with them,
// in-process: `kuzet parse --pipeline PIPELINE --registry
// configs/registry.yaml --oisc OISC` (normalisation and registry
// enrichment, object tags included), then, all sections of one kind
// together in time order, `kuzet sigma scan --rules pipelines/rules` (the
// rule pack, detection and correlation). The fires events must raise the
// alerts of the case's "want" section (go test -update rewrites it); the
// quiet events must raise no correlation alert at all.

// packLine is one line of `kuzet sigma scan`: a match or an episode.
type packLine struct {
	RuleID      string            `json:"rule_id"`
	Title       string            `json:"title"`
	Correlation bool              `json:"correlation"`
	Group       map[string]string `json:"group"`
	Window      struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"window"`
	Events []int `json:"events"`
}

// normalise runs kuzet parse over the case's sections of kind and returns
// the events as NDJSON, in time order (stable).
func normalise(t *testing.T, root string, a *archive, kind string) []byte {
	t.Helper()
	return normaliseWith(t, a, kind, filepath.Join(root, "configs", "registry.yaml"))
}

// normaliseWith is normalise with another registry file.
func normaliseWith(t *testing.T, a *archive, kind, registry string) []byte {
	t.Helper()
	type timed struct {
		at   time.Time
		line []byte
	}
	var evs []timed
	dir := t.TempDir()
	for i, name := range a.names {
		f := strings.Fields(name)
		if len(f) != 3 || f[0] != kind {
			continue
		}
		in := filepath.Join(dir, fmt.Sprintf("%d.in", i))
		if err := os.WriteFile(in, []byte(a.files[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, stderr bytes.Buffer
		args := []string{"--pipeline", f[2], "--registry", registry, "--oisc", f[1], in}
		if code := parsecli.Main(args, nil, &out, &stderr); code != 0 {
			t.Fatalf("section %q: kuzet parse exited %d: %s", name, code, stderr.String())
		}
		for line := range bytes.Lines(out.Bytes()) {
			// kuzet parse writes @timestamp first.
			rest, ok := bytes.CutPrefix(line, []byte(`{"@timestamp":"`))
			end := bytes.IndexByte(rest, '"')
			if !ok || end < 0 {
				t.Fatalf("section %q: no @timestamp first: %s", name, line)
			}
			at, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
			if err != nil {
				t.Fatalf("section %q: %v", name, err)
			}
			evs = append(evs, timed{at, bytes.TrimRight(line, "\n")})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	var b bytes.Buffer
	for _, e := range evs {
		b.Write(e.line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// scanPack runs kuzet sigma scan with the rule pack over events in-process
// and returns its output. Anything on stderr (a rejected rule, a signal
// left out) fails the test.
func scanPack(t *testing.T, root string, events []byte) []byte {
	t.Helper()
	var out, stderr bytes.Buffer
	args := []string{"scan", "--rules", filepath.Join(root, "pipelines", "rules"), "--events", "-"}
	if code := sigmacli.Main(args, bytes.NewReader(events), &out, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("kuzet sigma scan exited %d:\n%s", code, stderr.String())
	}
	return out.Bytes()
}

// summarise turns scan output into readable lines: one per episode, and
// one per rule that raised single-event alerts, with their count; and the
// correlations that raised an episode.
func summarise(t *testing.T, out []byte) (lines []string, fired []string) {
	t.Helper()
	single := map[string]int{}
	for line := range bytes.Lines(out) {
		var l packLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("scan output %q: %v", line, err)
		}
		if !l.Correlation {
			single[l.Title]++
			continue
		}
		var g []string
		for k, v := range l.Group {
			g = append(g, k+"="+v)
		}
		sort.Strings(g)
		lines = append(lines, fmt.Sprintf("alert %q %s window=(%s,%s] events=%d", l.Title, strings.Join(g, " "),
			l.Window.Start, l.Window.End, len(l.Events)))
		fired = append(fired, l.RuleID)
	}
	for title, n := range single {
		lines = append(lines, fmt.Sprintf("match %q x%d", title, n))
	}
	sort.Strings(lines)
	return lines, fired
}

func packCases(t *testing.T, root string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "pipelines", "rules", "testdata", "*.txtar"))
	if len(files) == 0 {
		t.Fatal("no rule pack cases")
	}
	return files
}

// packCorrelations returns the ids and titles of the pack's correlations.
func packCorrelations(t *testing.T, root string) map[string]string {
	t.Helper()
	rules, errs := sigma.LoadDir(filepath.Join(root, "pipelines", "rules"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	out := map[string]string{}
	for _, r := range rules {
		if r.Correlation != nil {
			out[r.ID] = r.Title
		}
	}
	return out
}

// TestRulePack runs pipelines/rules/testdata/*.txtar (see above) and checks
// that every correlation of the pack fires in some case.
func TestRulePack(t *testing.T) {
	root := conformance.ModuleRoot(t)
	corrs := packCorrelations(t, root)
	covered := map[string]bool{}
	for _, f := range packCases(t, root) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a := parseTxtar(string(data))
			fires, quiet := normalise(t, root, a, "fires"), normalise(t, root, a, "quiet")
			if len(fires) == 0 || len(quiet) == 0 {
				t.Fatal("a case needs events that fire (fires OISC PIPELINE) and events that must not (quiet OISC PIPELINE)")
			}
			got, fired := summarise(t, scanPack(t, root, fires))
			if len(fired) == 0 {
				t.Error("the fires events raised no correlation alert")
			}
			for _, id := range fired {
				covered[id] = true
			}
			text := strings.Join(got, "\n") + "\n"
			if *update {
				a.set("want", text)
				if err := os.WriteFile(f, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want := a.files["want"]; text != want {
				t.Errorf("fires:\n%s\nwant:\n%s", text, want)
			}
			if q, fired := summarise(t, scanPack(t, root, quiet)); len(fired) > 0 {
				t.Errorf("quiet events raised correlation alerts:\n%s", strings.Join(q, "\n"))
			}
		})
	}
	for id, title := range corrs {
		if !covered[id] {
			t.Errorf("correlation %s (%s) fires in no case", id, title)
		}
	}
}

// TestRulePackBinary runs the fires events of every case through the real
// `kuzet sigma scan` binary too: it prints what the in-process run prints.
func TestRulePackBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/kuzet")
	}
	root := conformance.ModuleRoot(t)
	bin := proctest.Binary(t, "kuzet")
	for _, f := range packCases(t, root) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			events := normalise(t, root, parseTxtar(string(data)), "fires")
			want := scanPack(t, root, events)
			cmd := exec.Command(bin, "sigma", "scan", "--rules", filepath.Join(root, "pipelines", "rules"), "--events", "-")
			cmd.Stdin = bytes.NewReader(events)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if !bytes.Equal(out, want) {
				t.Errorf("kuzet sigma scan (binary):\n%s\nin-process:\n%s", out, want)
			}
			if !slices.ContainsFunc(strings.Split(string(out), "\n"), func(s string) bool { return strings.Contains(s, `"correlation":true`) }) {
				t.Error("no correlation alert")
			}
		})
	}
}

// worstRegistry is a registry in which every address, and every host
// named in hosts, belongs to a critical object tagged with every tag the
// pack looks at: the worst case for false positives.
func worstRegistry(t *testing.T, hosts []string) string {
	t.Helper()
	const tags = "[scada, hmi, ot_gateway, remote_access, dns_server]"
	var b strings.Builder
	b.WriteString("version: 1\ncenters: [{id: oisc-x, name: X, kind: oisc}]\norganisations: [{id: org-x, name: X, sectors: [electricity]}]\nobjects:\n")
	fmt.Fprintf(&b, "  - {id: every-address, name: A, kind: technological_platform, owner: org-x, sector: electricity, criticality: 1, oisc: oisc-x, cidrs: [0.0.0.0/0, \"::/0\"], tags: %s}\n", tags)
	for i, h := range hosts {
		fmt.Fprintf(&b, "  - {id: host-%d, name: H, kind: technological_platform, owner: org-x, sector: electricity, criticality: 1, oisc: oisc-x, hostnames: [%q], tags: %s}\n", i, h, tags)
	}
	p := filepath.Join(t.TempDir(), "registry.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// parseFile runs kuzet parse in-process and returns the events in time order.
func parseFile(t *testing.T, pipe, registry, file string) []byte {
	t.Helper()
	a := &archive{files: map[string]string{}}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a.set("all oisc-x "+pipe, string(data))
	return normaliseWith(t, a, "all", registry)
}

// scanWithBases runs the pack as scanPack does, but from a copy in which
// every correlation has generate: true, so that scan prints the matches of
// the base rules too. It returns the summary lines of the alerts
// (summarise) and, per base rule and group of the first correlation it
// feeds, the number of matches and of distinct values of that
// correlation's value field.
func scanWithBases(t *testing.T, root string, events []byte) (alerts, bases []string) {
	t.Helper()
	rulesDir := filepath.Join(root, "pipelines", "rules")
	rules, errs := sigma.LoadDir(rulesDir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, rej := correlate.Compile(rules)
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("\ncorrelation:\n"), []byte("\ncorrelation:\n    generate: true\n"))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, stderr bytes.Buffer
	if code := sigmacli.Main([]string{"scan", "--rules", dir, "--events", "-"}, bytes.NewReader(events), &out, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("kuzet sigma scan exited %d:\n%s", code, stderr.String())
	}
	lines := bytes.Split(events, []byte("\n"))
	type agg struct {
		n      int
		values map[string]bool
		vfield string
	}
	groups := map[string]*agg{}
	var rest bytes.Buffer
	for line := range bytes.Lines(out.Bytes()) {
		var m struct {
			RuleID      string `json:"rule_id"`
			Correlation bool   `json:"correlation"`
			Event       int    `json:"event"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if m.Correlation || !set.Referenced(m.RuleID) {
			rest.Write(line)
			continue
		}
		_, doc, err := event.Decode(lines[m.Event])
		if err != nil || doc == nil {
			t.Fatalf("event %d: %v", m.Event, err)
		}
		fields := correlate.EventFields(sigma.NestedEvent{Doc: doc, Namespace: event.DocNamespace(doc)})
		c := set.Feeds(m.RuleID)[0]
		gf, vf, _ := c.Fields(m.RuleID)
		var r *sigma.Rule
		for _, x := range rules {
			if x.ID == m.RuleID {
				r = x
			}
		}
		key := r.Name
		for i, f := range gf {
			v, _ := fields(f)
			key += " " + c.GroupBy[i] + "=" + v
		}
		g := groups[key]
		if g == nil {
			g = &agg{values: map[string]bool{}, vfield: vf}
			groups[key] = g
		}
		g.n++
		if vf != "" {
			v, _ := fields(vf)
			g.values[v] = true
		}
	}
	for k, g := range groups {
		s := fmt.Sprintf("base %s matches=%d", k, g.n)
		if g.vfield != "" {
			s += fmt.Sprintf(" distinct %s=%d", g.vfield, len(g.values))
		}
		bases = append(bases, s)
	}
	sort.Strings(bases)
	alerts, _ = summarise(t, rest.Bytes())
	return alerts, bases
}

// TestRulePackRealData runs the pack over real events normalised by the
// collectors' pipelines, enriched with worstRegistry: the Zeek logs of
// ../shared/conformance/zeek (WRCCDC 2018) and SigmaHQ's regression events
// (evtx_dump JSON through the winevent pipeline). Every alert, and every
// match of a base rule, must be listed in pipelines/rules/testdata/realdata.want
// with the reason it is right (after " # "); anything else fails, and so
// does a listed line that no longer happens. go test -update rewrites the
// list, keeping the reasons of lines that stay (new lines get "TODO", which
// fails until a reason replaces it).
func TestRulePackRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100,000 real events")
	}
	root := conformance.ModuleRoot(t)
	dir := t.TempDir()

	// Zeek: every log, one file.
	zeekDir := conformance.Path(t, "zeek")
	logs, _ := filepath.Glob(filepath.Join(zeekDir, "*.json.gz"))
	if len(logs) == 0 {
		t.Fatal("no Zeek logs")
	}
	var zb bytes.Buffer
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(&zb, zr); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	zeekFile := filepath.Join(dir, "zeek.json")
	if err := os.WriteFile(zeekFile, zb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	zeek := parseFile(t, "zeek", worstRegistry(t, nil), zeekFile)

	// SigmaHQ's regression events: every host named is a tagged object.
	var rb bytes.Buffer
	_ = filepath.WalkDir(conformance.Path(t, "sigmahq", "regression_data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rb.Write(data)
			rb.WriteByte('\n')
		}
		return err
	})
	regFile := filepath.Join(dir, "regression.json")
	if err := os.WriteFile(regFile, rb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	hostSet := map[string]bool{}
	for line := range bytes.Lines(parseFile(t, "winevent", worstRegistry(t, nil), regFile)) {
		var doc struct {
			Host struct{ Name string } `json:"host"`
		}
		_ = json.Unmarshal(line, &doc)
		if doc.Host.Name != "" {
			hostSet[strings.ToLower(doc.Host.Name)] = true
		}
	}
	hosts := slices.Sorted(maps.Keys(hostSet))
	regression := parseFile(t, "winevent", worstRegistry(t, hosts), regFile)

	var got []string
	for _, src := range []struct {
		name   string
		events []byte
	}{{"zeek", zeek}, {"sigmahq", regression}} {
		n := bytes.Count(src.events, []byte("\n"))
		got = append(got, fmt.Sprintf("%s events=%d", src.name, n))
		alerts, bases := scanWithBases(t, root, src.events)
		for _, l := range alerts {
			got = append(got, src.name+" "+l)
		}
		for _, l := range bases {
			got = append(got, src.name+" "+l)
		}
	}

	wantFile := filepath.Join(root, "pipelines", "rules", "testdata", "realdata.want")
	data, err := os.ReadFile(wantFile)
	if err != nil && !*update {
		t.Fatal(err)
	}
	var header []string
	reasons := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			header = append(header, line)
			continue
		}
		if what, why, ok := strings.Cut(line, " # "); ok {
			reasons[what] = why
		} else if line != "" {
			t.Errorf("realdata.want: %q has no reason (\" # why\")", line)
		}
	}
	if *update {
		out := slices.Clone(header)
		for _, g := range got {
			why := reasons[g]
			if why == "" {
				why = "TODO"
			}
			out = append(out, g+" # "+why)
		}
		if err := os.WriteFile(wantFile, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, g := range got {
		why, ok := reasons[g]
		switch {
		case !ok:
			t.Errorf("not in realdata.want: %s", g)
		case why == "" || why == "TODO":
			t.Errorf("realdata.want gives no reason for: %s", g)
		}
		delete(reasons, g)
	}
	for what := range reasons {
		t.Errorf("in realdata.want, no longer seen: %s", what)
	}
}
