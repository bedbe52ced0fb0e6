package correlate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
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
	Window      struct{ Start, End string }
	Events      []int `json:"events"`
}

// normalise runs kuzet parse over the case's sections of kind and returns
// the events as NDJSON, in time order (stable).
func normalise(t *testing.T, root string, a *archive, kind string) []byte {
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
		args := []string{"--pipeline", f[2], "--registry", filepath.Join(root, "configs", "registry.yaml"), "--oisc", f[1], in}
		if code := parsecli.Main(args, nil, &out, &stderr); code != 0 {
			t.Fatalf("section %q: kuzet parse exited %d: %s", name, code, stderr.String())
		}
		for line := range bytes.Lines(out.Bytes()) {
			var doc struct {
				At time.Time `json:"@timestamp"`
			}
			if err := json.Unmarshal(line, &doc); err != nil {
				t.Fatalf("section %q: %v", name, err)
			}
			evs = append(evs, timed{doc.At, bytes.TrimRight(line, "\n")})
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
