package dashboards_test

import (
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
)

// TestAlertingRules runs promtool (Debian's prometheus package; `make
// deps` installs it) on deploy/prometheus: check rules, check config, and
// the unit tests of every alert. Without promtool the test skips, or fails
// with CI=true.
func TestAlertingRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found (apt-get install prometheus, or make deps)")
		}
		t.Skip("promtool not found (apt-get install prometheus, or make deps)")
	}
	dir := filepath.Join(conformance.ModuleRoot(t), "deploy", "prometheus")
	tests, _ := filepath.Glob(filepath.Join(dir, "tests", "*.yml"))
	if len(tests) == 0 {
		t.Fatal("no rule tests in deploy/prometheus/tests")
	}
	for _, args := range [][]string{
		{"check", "rules", "kuzet.rules.yml"},
		{"check", "config", "prometheus.yml"},
		append([]string{"test", "rules"}, tests...),
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// One unit test per alert, showing it quiet, then firing, then
	// resolved: by eval_time, an empty exp_alerts, a non-empty one, and an
	// empty one again.
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert string }
		}
	}
	readYAML(t, filepath.Join(dir, "kuzet.rules.yml"), &rules)
	type eval struct {
		at     time.Duration
		firing bool
	}
	evals := map[string][]eval{}
	for _, f := range tests {
		var unit struct {
			Tests []struct {
				AlertRuleTest []struct {
					EvalTime  string           `yaml:"eval_time"`
					Alertname string           `yaml:"alertname"`
					ExpAlerts []map[string]any `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			}
		}
		readYAML(t, f, &unit)
		for _, tc := range unit.Tests {
			for _, a := range tc.AlertRuleTest {
				at, err := time.ParseDuration(a.EvalTime)
				if err != nil {
					t.Fatalf("%s: eval_time %q: %v", f, a.EvalTime, err)
				}
				evals[a.Alertname] = append(evals[a.Alertname], eval{at, len(a.ExpAlerts) > 0})
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			es := evals[r.Alert]
			slices.SortStableFunc(es, func(a, b eval) int { return cmp.Compare(a.at, b.at) })
			step := 0 // 0: want quiet, 1: want firing, 2: want quiet, 3: seen all
			for _, e := range es {
				if e.firing == (step == 1) {
					step++
				}
				if step == 3 {
					break
				}
			}
			if step < 3 {
				t.Errorf("alert %s: evaluations %v in the rule tests; want quiet, then firing, then quiet again", r.Alert, es)
			}
		}
	}
	if n == 0 {
		t.Error("no alerting rule in kuzet.rules.yml")
	}
}
