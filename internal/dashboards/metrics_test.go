package dashboards_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/dashboards"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// external are the metrics a panel or rule may use that no kuzet role
// registers, and who exports them.
var external = map[string]string{
	"up":            "Prometheus itself, per scrape target",
	"probe_success": "the blackbox exporter probing /readyz (job kuzet-readyz in deploy/prometheus/prometheus.yml)",
}

// recorder is a Registerer that records the names of the metrics
// registered with it (from their descriptions, so vectors that have no
// series yet count too).
type recorder struct {
	mu    sync.Mutex
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.mu.Lock()
			r.names[m[1]] = true
			r.mu.Unlock()
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

// registered returns the metric names the three roles register: the
// collector and the API as built, the ncc started (on an embedded NATS
// server and the test ClickHouse) with its incident stage and
// notifications, whose metrics exist only once it runs.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recorder{names: map[string]bool{}}
	cc := config.DefaultCollector()
	cc.ID, cc.OISC, cc.HTTP.Listen = "c1", "o1", "127.0.0.1:0"
	cc.Inputs = []config.Input{{Name: "u", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "syslog"}}
	if _, err := collector.New(collector.Options{Config: cc, Registerer: rec,
		Streams: func(string, pipeline.StreamOptions) (collector.Stream, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	ac := config.DefaultAPI()
	ac.HTTP.Listen = "127.0.0.1:0"
	if _, err := api.New(api.Options{Config: ac, Registerer: rec}); err != nil {
		t.Fatal(err)
	}
	// The ncc reads configs/regimes.yaml (and the calendars it names)
	// relative to the working directory, as in production.
	t.Chdir(conformance.ModuleRoot(t))
	nc := config.DefaultNCC()
	// Its streams reserve their limits (8 GiB each): a store limit above
	// their sum, whatever the disk's free space (nothing is written).
	ns, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: t.TempDir(), MaxStore: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc.NATS.URL = ns.ClientURL()
	nc.ClickHouse = storetest.Config(t)
	nc.HTTP.Listen = "127.0.0.1:0"
	nc.Incidents.Partitions, nc.Correlation.Partitions = 2, 2
	n, err := ncc.New(ncc.Options{Config: nc, Registerer: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return rec.names
}

// TestMetricsAreRegistered checks that every metric a Prometheus panel or
// an alerting rule uses is one the roles register (or one of the few
// external ones, named with their exporter).
func TestMetricsAreRegistered(t *testing.T) {
	root := conformance.ModuleRoot(t)
	type use struct{ where, expr string }
	var uses []use
	for file, b := range loadBoards(t) {
		for _, p := range b.Panels {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					uses = append(uses, use{file + ": panel " + p.Title, tg.Expr})
				}
			}
		}
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/kuzet.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			uses = append(uses, use{"kuzet.rules.yml: " + r.Alert + r.Record, r.Expr})
		}
	}
	names := registered(t)
	if len(names) < 60 {
		t.Fatalf("recorded only %d metric names", len(names))
	}
	used := map[string]bool{}
	for _, u := range uses {
		ms := dashboards.MetricNames(u.expr)
		if len(ms) == 0 {
			t.Errorf("%s: no metric in %q", u.where, u.expr)
		}
		for _, m := range ms {
			base := m
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suf); ok && !names[m] && names[b] {
					base = b
				}
			}
			used[base] = true
			if !names[base] && external[base] == "" {
				t.Errorf("%s uses %s, which no role registers", u.where, m)
			}
		}
	}
	for _, m := range []string{"kuzet_notification_stages_overdue", "kuzet_notification_overdue_total", "kuzet_ncc_consumer_pending_messages",
		"kuzet_ncc_insert_errors_total", "kuzet_collector_records_rejected_total", "kuzet_collector_events_accepted_total"} {
		if !used[m] {
			t.Errorf("no panel or rule uses %s", m)
		}
	}
	var list []string
	for m := range used {
		list = append(list, m)
	}
	sort.Strings(list)
	t.Logf("%d expressions use %d metrics of the %d the roles register: %s", len(uses), len(list), len(names), strings.Join(list, " "))
}
