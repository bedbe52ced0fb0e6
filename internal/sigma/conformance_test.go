package sigma_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// TestSigmaHQRulesCompile: every active SigmaHQ rule compiles.
func TestSigmaHQRulesCompile(t *testing.T) {
	ps, err := sigma.DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder"} {
		rules, errs := sigma.LoadDir(conformance.Path(t, "sigmahq", d))
		for _, e := range errs {
			t.Errorf("%s: %v", d, e)
		}
		_, rej, _ := sigma.Compile(rules, sigma.Options{Pipelines: ps})
		for _, r := range rej {
			t.Errorf("%s: %v", r.File, r.Err)
		}
		total += len(rules)
	}
	if total < 3700 {
		t.Errorf("only %d rules", total)
	}
}

// TestUnsupportedRules: in unsupported/, rules using the removed
// aggregations or near are rejected naming the construct; the others
// compile, except three whose conditions are pseudo-code ("write ... to
// ...; then if ... -> alert"), which are rejected as invalid conditions.
func TestUnsupportedRules(t *testing.T) {
	dir := conformance.Path(t, "sigmahq", "unsupported")
	legacy, compiled, invalid := 0, 0, 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, _ := os.ReadFile(p)
		rules, errs := sigma.ParseRules(p, data)
		if len(errs) == 0 {
			_, rej, _ := sigma.Compile(rules, sigma.Options{})
			for _, r := range rej {
				errs = append(errs, r.Err)
			}
		}
		switch {
		case len(errs) == 0:
			compiled++
		case errors.Is(errs[0], sigma.ErrLegacy):
			legacy++
			if !strings.Contains(errs[0].Error(), "aggregation") && !strings.Contains(errs[0].Error(), "near") {
				t.Errorf("%s: reason does not name the construct: %v", p, errs[0])
			}
			if !strings.Contains(errs[0].Error(), p) && !strings.Contains(errs[0].Error(), "condition") {
				t.Errorf("%s: reason does not name the file: %v", p, errs[0])
			}
		default:
			invalid++
			if !strings.Contains(string(data), "-> alert") {
				t.Errorf("%s: unexpected rejection: %v", p, errs[0])
			}
		}
		return nil
	})
	t.Logf("unsupported/: %d legacy rejected, %d compiled, %d invalid", legacy, compiled, invalid)
	if legacy < 52 || compiled < 29 || legacy+compiled+invalid != 87 || invalid > 3 {
		t.Errorf("legacy %d, compiled %d, invalid %d", legacy, compiled, invalid)
	}
}

// TestWindowsRoutesMatchThor compares the shipped Windows routing with
// SigmaHQ's tests/thor.yml: the same log sources, channels, event ids and
// field mappings.
func TestWindowsRoutesMatchThor(t *testing.T) {
	data, err := os.ReadFile(conformance.Path(t, "sigmahq", "tests", "thor.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var thor struct {
		Logsources map[string]struct {
			Category      string            `yaml:"category"`
			Product       string            `yaml:"product"`
			Service       string            `yaml:"service"`
			Conditions    map[string]any    `yaml:"conditions"`
			Rewrite       map[string]string `yaml:"rewrite"`
			Sources       []string          `yaml:"sources"`
			Fieldmappings map[string]string `yaml:"fieldmappings"`
		} `yaml:"logsources"`
	}
	if err := yaml.Unmarshal(data, &thor); err != nil {
		t.Fatal(err)
	}
	channels := func(product, service string) []string {
		for _, l := range thor.Logsources {
			if l.Product == product && l.Service == service && len(l.Sources) > 0 {
				var out []string
				for _, s := range l.Sources {
					if c, ok := strings.CutPrefix(s, "WinEventLog:"); ok {
						out = append(out, c)
					}
				}
				return out
			}
		}
		return nil
	}
	want := map[string]sigma.Route{}
	for name, l := range thor.Logsources {
		conds := map[string][]string{}
		for k, v := range l.Conditions {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					conds[k] = append(conds[k], yamlScalar(e))
				}
			default:
				conds[k] = []string{yamlScalar(x)}
			}
		}
		switch {
		case l.Rewrite != nil:
			conds["Channel"] = channels(l.Rewrite["product"], l.Rewrite["service"])
		case len(l.Sources) > 0:
			ch := channels(l.Product, l.Service)
			if ch == nil {
				continue // file sources, not Windows channels
			}
			conds["Channel"] = ch
		}
		want[name] = sigma.Route{Name: name, Logsource: sigma.Logsource{Product: l.Product, Category: l.Category, Service: l.Service},
			Conditions: conds, FieldMap: l.Fieldmappings}
	}
	ps, err := sigma.DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sigma.Route{}
	for _, p := range ps {
		if p.Name != "windows" {
			continue
		}
		for _, r := range p.Routes {
			got[r.Name] = sigma.Route{Name: r.Name, Logsource: r.Logsource, Conditions: r.Conditions, FieldMap: r.FieldMap}
		}
	}
	if len(got) != len(want) || len(want) < 80 {
		t.Errorf("%d routes, thor.yml has %d Windows ones", len(got), len(want))
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !reflect.DeepEqual(got[n], want[n]) {
			t.Errorf("route %s:\n got %+v\nwant %+v", n, got[n], want[n])
		}
	}
}

func yamlScalar(v any) string { return fmt.Sprint(v) }
