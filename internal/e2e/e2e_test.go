package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func ports(t *testing.T, n int) []int {
	t.Helper()
	p, err := chlocal.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type eventsBody struct {
	Events     []event.Event `json:"events"`
	NextCursor string        `json:"next_cursor"`
}

func getEvents(ctx context.Context, addr, key, query string) (eventsBody, error) {
	var eb eventsBody
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/events?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return eb, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return eb, fmt.Errorf("status %d", resp.StatusCode)
	}
	return eb, json.NewDecoder(resp.Body).Decode(&eb)
}

// TestCollectorProcessToAPI sends syslog to a real kuzet-collector process;
// the events come out of a real kuzet-api process, enriched from the
// registry, after a real kuzet-ncc process stored them in ClickHouse.
func TestCollectorProcessToAPI(t *testing.T) {
	chcfg := storetest.Config(t)
	ns := bustest.Server(t)
	dir := t.TempDir()
	root := conformance.ModuleRoot(t)
	p := ports(t, 6)
	tcpAddr, udpAddr := fmt.Sprintf("127.0.0.1:%d", p[0]), fmt.Sprintf("127.0.0.1:%d", p[1])
	apiAddr := fmt.Sprintf("127.0.0.1:%d", p[2])
	key := "e2e-analyst-key"
	collectorCfg := writeFile(t, dir, "collector.yaml", fmt.Sprintf(`
id: astana-e2e
oisc: oisc-astana
data_dir: %s
nats: {url: %q}
http: {listen: "127.0.0.1:%d"}
registry_file: %s
batch: {linger: 50ms}
inputs:
  - {name: syslog-tcp, type: syslog_tcp, listen: %q, pipeline: syslog}
  - {name: syslog-udp, type: syslog_udp, listen: %q, pipeline: syslog}
`, filepath.Join(dir, "collector"), ns.ClientURL(), p[3], filepath.Join(root, "configs", "registry.yaml"), tcpAddr, udpAddr))
	nccCfg := writeFile(t, dir, "ncc.yaml", fmt.Sprintf(`
nats: {url: %q}
clickhouse: {addr: [%q], database: %s}
http: {listen: "127.0.0.1:%d"}
store: {linger: 200ms}
digests: {disabled: true}
`, ns.ClientURL(), chcfg.Addr[0], chcfg.Database, p[4]))
	apiCfg := writeFile(t, dir, "api.yaml", fmt.Sprintf(`
listen: %q
http: {listen: "127.0.0.1:0"}
clickhouse: {addr: [%q], database: %s}
keys:
  - {name: e2e, role: ncc-analyst, hash: %s}
  - {name: bank, role: owner, org: qazbank, hash: %s}
`, apiAddr, chcfg.Addr[0], chcfg.Database, access.HashKey(key), access.HashKey("bank-key")))

	ncc := proctest.Start(t, "", proctest.Binary(t, "kuzet-ncc"), []string{"-config", nccCfg})
	coll := proctest.Start(t, "", proctest.Binary(t, "kuzet-collector"), []string{"-config", collectorCfg})
	api := proctest.Start(t, "", proctest.Binary(t, "kuzet-api"), []string{"-config", apiCfg})
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d/readyz", p[3]), fmt.Sprintf("127.0.0.1:%d/readyz", p[4]), apiAddr + "/readyz"} {
		proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
			resp, err := http.Get("http://" + addr)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: %d", addr, resp.StatusCode)
			}
			return nil
		})
	}

	// Real device formats: RFC 5424 over TCP with octet counting, RFC 3164 over UDP.
	conn, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []string{
		"<38>1 2026-11-24T10:00:01.003Z cbs-db-01 sshd 4123 - - Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2",
		"<86>1 2026-11-24T10:00:02Z egov-web-01 sudo - - - operator : TTY=pts/0 ; PWD=/home/operator ; USER=root ; COMMAND=/bin/bash",
		"<30>1 2026-11-24T10:00:03Z printer-9 lpd - - - job done", // unknown asset
	}
	for _, m := range msgs {
		fmt.Fprintf(conn, "%d %s", len(m), m)
	}
	conn.Close()
	u, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(u, "<34>Nov 24 15:00:04 wtp-plc-gw kernel: modbus gateway link down")
	u.Close()

	want := map[string]struct{ org, object, sector string }{
		"cbs-db-01":   {"qazbank", "qazbank-cbs", "banking"},
		"egov-web-01": {"egov-ops", "egov-portal", "digital_government"},
		"wtp-plc-gw":  {"city-water", "water-scada", "water_supply"},
		"printer-9":   {"", "", ""},
	}
	var got eventsBody
	proctest.Eventually(t, 120*time.Second, func(ctx context.Context) error {
		got, err = getEvents(ctx, apiAddr, key, "limit=100")
		if err != nil {
			return err
		}
		if len(got.Events) < len(want) {
			return fmt.Errorf("%d of %d events served", len(got.Events), len(want))
		}
		return nil
	})
	if len(got.Events) != len(want) {
		t.Errorf("served %d events, want %d", len(got.Events), len(want))
	}
	for _, ev := range got.Events {
		host := ev.GetString("host.name")
		w, ok := want[host]
		if !ok {
			t.Errorf("unexpected event from host %q: %+v", host, ev)
			continue
		}
		k := ev.Kuzet
		if k.Org != w.org || k.Object != w.object || k.Sector != w.sector || k.OISC != "oisc-astana" || k.Collector != "astana-e2e" {
			t.Errorf("%s: enrichment %+v, want %+v", host, k, w)
		}
		if (w.object == "") != (k.Asset == event.AssetUnknown) {
			t.Errorf("%s: asset %s", host, k.Asset)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: invalid event served: %v", host, err)
		}
	}
	// The owner of qazbank sees only its own event.
	owner, err := getEvents(context.Background(), apiAddr, "bank-key", "limit=100")
	if err != nil || len(owner.Events) != 1 || owner.Events[0].Kuzet.Org != "qazbank" {
		t.Errorf("owner scope: %v %+v", err, owner.Events)
	}
	// SIGTERM stops every role cleanly.
	for _, p := range []*proctest.Proc{coll, ncc, api} {
		p.Signal(syscall.SIGTERM)
		if code := p.Wait(30 * time.Second); code != 0 {
			t.Errorf("exit code %d after SIGTERM:\n%s", code, p.Output())
		}
	}
}

// TestBadConfigExitsTwo checks every role binary: a bad configuration
// exits 2 with errors that name the field; -check-config validates.
func TestBadConfigExitsTwo(t *testing.T) {
	dir := t.TempDir()
	root := conformance.ModuleRoot(t)
	bad := writeFile(t, dir, "bad.yaml", "id: \"Not An Id\"\nunknown_key: 1\n")
	for _, c := range []struct {
		bin, good string
	}{
		{"kuzet-collector", "configs/collector.yaml"},
		{"kuzet-ncc", "configs/ncc.yaml"},
		{"kuzet-api", "configs/api.yaml"},
	} {
		bin := proctest.Binary(t, c.bin)
		p := proctest.Start(t, "", bin, []string{"-config", bad})
		if code := p.Wait(20 * time.Second); code != 2 {
			t.Errorf("%s with a bad config: exit %d, want 2\n%s", c.bin, code, p.Output())
		}
		if !strings.Contains(p.Output(), "unknown_key") {
			t.Errorf("%s: error does not name the field:\n%s", c.bin, p.Output())
		}
		p = proctest.Start(t, "", bin, []string{"-check-config", "-config", filepath.Join(root, c.good)})
		if code := p.Wait(20 * time.Second); code != 0 || !strings.Contains(p.Output(), "configuration ok") {
			t.Errorf("%s -check-config %s: exit %d\n%s", c.bin, c.good, code, p.Output())
		}
		p = proctest.Start(t, "", bin, []string{"-check-config", "-config", filepath.Join(root, c.good)}, "KUZET_LOG_LEVEL=loud")
		if code := p.Wait(20 * time.Second); code != 2 || !strings.Contains(p.Output(), "log.level") {
			t.Errorf("%s with a bad environment override: exit %d\n%s", c.bin, code, p.Output())
		}
	}
}

// TestAPICheckConfigKeys runs kuzet-api -check-config on keys that share a
// hash, name an organisation or OISC the registry lacks, or hash a common
// word: each is an error naming its entry, and the binary exits 2.
func TestAPICheckConfigKeys(t *testing.T) {
	dir := t.TempDir()
	dup := access.HashKey("k-" + t.Name() + time.Now().String())
	cfg := writeFile(t, dir, "api.yaml", fmt.Sprintf(`registry_file: configs/registry.yaml
keys:
  - {name: bank-owner, role: owner, org: qazbank, hash: %q}
  - {name: duty, role: ncc-analyst, hash: %q}
  - {name: ghost-owner, role: owner, org: ghost-llp, hash: %q}
  - {name: ghost-soc, role: oisc-analyst, oisc: oisc-atlantis, hash: %q}
  - {name: lazy, role: ncc-analyst, hash: %q}
`, dup, dup, access.HashKey(dup+"2"), access.HashKey(dup+"3"), access.HashKey("kuzet")))
	p := proctest.Start(t, "", proctest.Binary(t, "kuzet-api"), []string{"-check-config", "-config", cfg})
	if code := p.Wait(20 * time.Second); code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, p.Output())
	}
	for _, want := range []string{
		`keys[1].hash: the same hash as keys[0] ("bank-owner", role owner)`,
		`keys[2].org: key "ghost-owner": organisation "ghost-llp" is not in the registry`,
		`keys[3].oisc: key "ghost-soc": "oisc-atlantis" is not an OISC`,
		`keys[4].hash: is the hash of the common word "kuzet"`,
	} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("output lacks %q:\n%s", want, p.Output())
		}
	}
}

// TestKuzetRunSmoke runs `kuzet run` as `make run` does: its demo feed's
// events come out of the API within a minute, and Ctrl-C stops everything,
// its ClickHouse child included.
func TestKuzetRunSmoke(t *testing.T) {
	if _, err := chlocal.Find(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("starts servers")
	}
	dir := t.TempDir()
	run := proctest.Start(t, "", proctest.Binary(t, "kuzet"), []string{"run", "-workdir", dir, "-api", "127.0.0.1:0",
		"-metrics", "127.0.0.1:0", "-demo-rate", "50"})
	if !run.WaitOutput(90*time.Second, "Ctrl-C stops everything") {
		t.Fatalf("kuzet run did not start:\n%s", run.Output())
	}
	out := run.Output()
	apiAddr := match(t, out, `API\s+http://(\S+)`)
	key := match(t, out, `API key \(dev\)\s+(\S+)`)
	metricsAddr := match(t, out, `metrics\s+http://(\S+)/metrics`)
	start := time.Now()
	var got eventsBody
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		var err error
		got, err = getEvents(ctx, apiAddr, key, "limit=200")
		if err != nil {
			return err
		}
		sectors, kinds := map[string]bool{}, map[string]bool{}
		for _, ev := range got.Events {
			sectors[ev.Kuzet.Sector] = true
			kinds[ev.Kuzet.SourceType] = true
		}
		if len(got.Events) < 20 || len(sectors) < 3 || !kinds["syslog"] || !kinds["winevent"] {
			return fmt.Errorf("%d events in %d sectors of source types %v so far", len(got.Events), len(sectors), kinds)
		}
		return nil
	})
	t.Logf("demo events served %.1fs after start", time.Since(start).Seconds())
	for _, ev := range got.Events {
		if ev.Event.Kind == "pipeline_error" {
			t.Errorf("demo record rejected: %s (%s)", ev.Message, ev.Event.Original)
		}
	}
	// The ncc's Sigma rules turn demo events into alerts.
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+apiAddr+"/api/v1/alerts?limit=200", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var ab struct {
			Alerts []struct {
				RuleID string `json:"rule_id"`
				Sector string `json:"sector"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ab); err != nil {
			return err
		}
		rules := map[string]bool{}
		for _, a := range ab.Alerts {
			rules[a.RuleID] = true
		}
		if len(rules) < 3 {
			return fmt.Errorf("alerts of %d rules so far", len(rules))
		}
		return nil
	})
	// The incident stage groups the alerts into incidents (after the
	// default route's group_wait of 30 s).
	incidentsAt := time.Now()
	proctest.Eventually(t, 120*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+apiAddr+"/api/v1/incidents?limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var ib struct {
			Incidents []struct {
				ID         string           `json:"id"`
				Status     string           `json:"status"`
				Orgs       []string         `json:"orgs"`
				AlertCount int              `json:"alert_count"`
				Stages     []incident.Stage `json:"stages"`
			} `json:"incidents"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ib); err != nil {
			return err
		}
		for _, in := range ib.Incidents {
			if in.AlertCount > 0 && len(in.Orgs) == 1 && in.Status == "new" {
				return nil
			}
		}
		return fmt.Errorf("%d incidents so far, none with alerts", len(ib.Incidents))
	})
	t.Logf("incidents served %.1fs after the alerts", time.Since(incidentsAt).Seconds())
	// Their clocks run, and the demo's OISC Almaty sends its incidents'
	// notifications at once: the demo recipients receive them (by NATS and
	// by the webhook) and acknowledge them.
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+apiAddr+"/api/v1/incidents?limit=100&national=false", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var ib struct {
			Incidents []struct {
				Stages []incident.Stage `json:"stages"`
			} `json:"incidents"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ib); err != nil {
			return err
		}
		pending, acked := 0, map[string]bool{}
		for _, in := range ib.Incidents {
			for _, s := range in.Stages {
				if s.Status == incident.StagePending && !s.DueAt.IsZero() {
					pending++
				}
				for _, n := range s.Notifications {
					if !n.AcknowledgedAt.IsZero() {
						acked[n.Channel] = true
					}
				}
			}
		}
		if pending == 0 || !acked["nats"] || !acked["webhook"] {
			return fmt.Errorf("stages with a running clock: %d; acknowledged channels: %v", pending, acked)
		}
		return nil
	})
	for _, want := range []string{"notification received by NATS", "notification received by webhook"} {
		if !strings.Contains(run.Output(), want) {
			t.Errorf("kuzet run's log lacks %q", want)
		}
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	chPID := childPID(t, dir)
	run.Signal(syscall.SIGINT)
	if code := run.Wait(60 * time.Second); code != 0 {
		t.Errorf("kuzet run exit %d after SIGINT", code)
	}
	if chPID > 0 {
		if err := syscall.Kill(chPID, 0); err == nil {
			t.Errorf("ClickHouse (pid %d) still running after kuzet run stopped", chPID)
		}
	} else {
		t.Error("no ClickHouse child found while kuzet run was running")
	}
}

func match(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %q in output:\n%s", re, s)
	}
	return m[1]
}

// childPID finds the clickhouse-server whose config lives under dir.
func childPID(t *testing.T, dir string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Split(bufio.ScanRunes)
		var b strings.Builder
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		f.Close()
		if strings.Contains(b.String(), "clickhouse") && strings.Contains(b.String(), dir) {
			return pid
		}
	}
	return 0
}
