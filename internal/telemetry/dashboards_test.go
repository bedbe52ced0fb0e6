package telemetry_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// recorder is a Registerer that records the metric names registered.
type recorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return true }

// TestDashboardsUseRegisteredMetrics checks that every kuzet metric a
// dashboard queries is one the roles register, so dashboards do not drift
// from the code.
func TestDashboardsUseRegisteredMetrics(t *testing.T) {
	rec := &recorder{names: map[string]bool{}}
	cc := config.DefaultCollector()
	cc.ID, cc.OISC = "c1", "o1"
	cc.Inputs = []config.Input{{Name: "u", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog"}}
	if _, err := collector.New(collector.Options{Config: cc, Registerer: rec,
		Streams: func(string, pipeline.StreamOptions) (collector.Stream, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	if _, err := ncc.New(ncc.Options{Config: config.DefaultNCC(), Registerer: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.New(api.Options{Config: config.DefaultAPI(), Registerer: rec}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(conformance.ModuleRoot(t), "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards")
	}
	metric := regexp.MustCompile(`kuzet_[a-z0-9_]+`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		used := 0
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				for _, m := range metric.FindAllString(tg.Expr, -1) {
					base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
					used++
					if !rec.names[base] {
						t.Errorf("%s: panel %q queries %s, which no role registers", filepath.Base(f), p.Title, m)
					}
				}
			}
		}
		if used == 0 {
			t.Errorf("%s queries no kuzet metric", f)
		}
	}
	var names []string
	for n := range rec.names {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 20 {
		t.Errorf("recorded only %d metrics: %v", len(names), names)
	}
}
