package loadgen_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/loadgen"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	ports, err := chlocal.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, n)
	for i, p := range ports {
		out[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	return out
}

func waitReady(t *testing.T, p *proctest.Proc, addr string) {
	t.Helper()
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		select {
		case <-p.Done():
			return fmt.Errorf("exited:\n%s", p.Output())
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
}

// TestShortLoad runs the load generator for a few seconds at a low rate
// against NATS, a collector and an ncc (kuzet's rule pack, correlation and
// incidents on) as separate processes, and checks that every record sent
// is stored once and the result has its fields. It keeps `make loadtest`
// from rotting; it measures nothing.
func TestShortLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and needs ClickHouse")
	}
	ch := storetest.Config(t)
	root := conformance.ModuleRoot(t)
	dir := t.TempDir()
	a := freeAddrs(t, 8)
	natsPort := a[0][strings.LastIndexByte(a[0], ':')+1:]
	nats := proctest.Start(t, "", proctest.Binary(t, "kuzet"), []string{"nats", "-port", natsPort, "-store", filepath.Join(dir, "nats"), "-log-level", "warn",
		"-max-store", fmt.Sprint(bustest.MaxStore)})
	if !nats.WaitOutput(30*time.Second, "nats nats://") {
		t.Fatalf("kuzet nats did not start:\n%s", nats.Output())
	}
	natsURL := "nats://" + a[0]
	key := "loadgen-test-key"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	col := write("collector.yaml", fmt.Sprintf(`
id: lg-test
oisc: oisc-astana
data_dir: %s
journal: true
nats: {url: %q}
http: {listen: %q}
log: {level: warn}
registry_file: %s
batch: {linger: 100ms}
inputs:
  - {name: syslog-tcp, type: syslog_tcp, listen: %q, pipeline: syslog}
  - {name: winevent-http, type: http, listen: %q, pipeline: winevent, keys: [%q]}
  - {name: zeek-http, type: http, listen: %q, pipeline: zeek, keys: [%q]}
  - {name: suricata-http, type: http, listen: %q, pipeline: suricata, keys: [%q]}
`, filepath.Join(dir, "collectors"), natsURL, a[1], filepath.Join(root, "configs", "registry.yaml"),
		a[2], a[3], access.HashKey(key), a[4], access.HashKey(key), a[5], access.HashKey(key)))
	ncc := write("ncc.yaml", fmt.Sprintf(`
id: ncc-1
nats: {url: %q}
clickhouse: {addr: [%q], database: %s}
http: {listen: %q}
log: {level: warn}
store: {linger: 200ms}
notifications: {disabled: true}
digests: {disabled: true}
`, natsURL, ch.Addr[0], ch.Database, a[6]))
	cp := proctest.Start(t, "", proctest.Binary(t, "kuzet-collector"), []string{"-config", col})
	waitReady(t, cp, a[1])
	np := proctest.Start(t, "", proctest.Binary(t, "kuzet-ncc"), []string{"-config", ncc})
	waitReady(t, np, a[6])

	reg, err := registry.LoadFile(filepath.Join(root, "configs", "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	res, err := loadgen.Run(ctx, loadgen.Options{
		Rate: 400, Duration: 3 * time.Second, Deadline: 90 * time.Second, Label: "test",
		Targets: []loadgen.Target{{OISC: "oisc-astana", Addrs: map[string]string{
			loadgen.InputSyslog: a[2], loadgen.InputWinevent: a[3], loadgen.InputZeek: a[4], loadgen.InputSuricata: a[5]}}},
		Registry: reg, Key: key, ClickHouse: ch, SamplePoll: 200 * time.Millisecond,
		PIDs:       map[string]int{"collector": cp.PID(), "ncc": np.PID(), "nats": nats.PID()},
		Journals:   []string{filepath.Join(dir, "collectors")},
		NCCMetrics: "http://" + a[6] + "/metrics",
	})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	res.Summary(&sb)
	t.Log(sb.String())
	if res.Sent < 1000 || res.Sent != res.Stored || res.Lost != 0 || res.Duplicated != 0 || !res.Complete {
		t.Errorf("sent %d, stored %d, lost %d, duplicated %d, complete %v", res.Sent, res.Stored, res.Lost, res.Duplicated, res.Complete)
	}
	if res.Verify == nil || res.Verify.Lost != 0 || res.Verify.Duplicated != 0 || res.Verify.Accepted != int(res.Sent) {
		t.Errorf("verify: %+v (sent %d)", res.Verify, res.Sent)
	}
	if len(res.SentByKind) != len(loadgen.Kinds()) {
		t.Errorf("kinds sent: %v", res.SentByKind)
	}
	if res.Samples == 0 || res.SamplesUnseen != 0 || res.P50ms <= 0 || res.P99ms < res.P50ms || res.Maxms < res.P99ms {
		t.Errorf("latency: %d samples (%d unseen), p50 %v p99 %v max %v", res.Samples, res.SamplesUnseen, res.P50ms, res.P99ms, res.Maxms)
	}
	if l := res.StoredLatency; l == nil || l.Events < float64(res.Stored) || l.P50ms <= 0 || l.P99ms < l.P50ms || l.Within5s < 0 || l.Within5s > 1 {
		t.Errorf("the ncc's latency over the run: %+v (stored %d)", l, res.Stored)
	}
	if res.PeakConsumerPending < 0 {
		t.Errorf("ncc consumer lag not read")
	}
	if res.Alerts <= 0 {
		// Alerts are written beside the events, maybe a moment later.
		st, err := store.Open(context.Background(), ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		proctest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
			var n uint64
			if err := st.QueryRowScan(ctx, "SELECT count() FROM "+st.Table("alerts"), &n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no alerts: the rule pack should match some records (result: %d)", res.Alerts)
			}
			return nil
		})
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"commit", "machine", "settings", "sent", "stored", "events_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "lost", "duplicated", "processes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("result has no %q", k)
		}
	}
	names := map[string]bool{}
	for _, p := range res.Processes {
		names[p.Name] = true
		if p.PeakRSSBytes <= 0 || p.CPUSeconds <= 0 || p.CPUSecondsPerMillionEvents <= 0 {
			t.Errorf("process %+v: missing figures", p)
		}
	}
	for _, n := range []string{"loadgen", "collector", "ncc", "nats"} {
		if !names[n] {
			t.Errorf("no figures for %s", n)
		}
	}
}
