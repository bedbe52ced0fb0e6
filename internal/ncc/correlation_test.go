package ncc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestBruteForceBecomesOneCorrelationAlertAndAnIncident sends 30 failed SSH
// logins from one address against a SCADA host (normalised and enriched by
// the kuzet parse binary with the demo registry), twice, through a real
// ncc: the base rule raises no alert of its own, the password guessing
// correlation raises one alert (one episode, each event counted once),
// and the incident stage opens one incident of the owner holding it.
func TestBruteForceBecomesOneCorrelationAlertAndAnIncident(t *testing.T) {
	const (
		baseRule = "5b0c8b4e-7d3a-4a36-9a3e-2f1f6a1c0010" // kuzet_sshd_password_failed
		guessing = "5b0c8b4e-7d3a-4a36-9a3e-2f1f6a1c0012" // Password Guessing Against A Critical Object
	)
	f := newFixture(t)
	root := conformance.ModuleRoot(t)
	var raw bytes.Buffer
	first := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	for i := range 30 {
		fmt.Fprintf(&raw, "<38>1 %s ems-01 sshd %d - - Failed password for root from 45.155.205.233 port %d ssh2\n",
			first.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 4000+i, 50000+i)
	}
	in := filepath.Join(t.TempDir(), "sshd.log")
	if err := os.WriteFile(in, raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(proctest.Binary(t, "kuzet"), "parse", "--pipeline", "syslog", "--registry",
		filepath.Join(root, "configs", "registry.yaml"), "--oisc", "oisc-almaty", in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kuzet parse: %v", err)
	}
	batch := &bus.Batch{ID: bus.BatchID("c1", 1), Collector: "c1", OISC: "oisc-almaty", CreatedAt: time.Now()}
	for line := range bytes.Lines(out) {
		batch.Events = append(batch.Events, json.RawMessage(bytes.TrimSpace(line)))
	}
	if len(batch.Events) != 30 {
		t.Fatalf("kuzet parse made %d events", len(batch.Events))
	}
	for i := range 2 { // the same batch again under another id: a collector's resend
		b := *batch
		b.ID = bus.BatchID("c1", uint64(1+i))
		if _, err := f.pub.Publish(context.Background(), bus.EventsSubject("oisc-almaty", "c1"), &b); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.cfg
	cfg.Correlation.Partitions = 4
	cfg.Incidents.Partitions = 4
	cfg.Incidents.RSITFile = filepath.Join(root, "configs", "rsit.yaml")
	t.Chdir(root) // the regimes file names its calendar relative to the working directory
	cfg.Incidents.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 500 * time.Millisecond, GroupInterval: time.Second, RepeatInterval: time.Hour}}
	began := time.Now()
	reg := prometheus.NewRegistry()
	_ = start(t, cfg, reg)
	ctx := context.Background()
	alerts := func(rule string) []alert.Alert { return ruleAlerts(t, f.st, rule, access.EventScope{}) }
	var got []alert.Alert
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = alerts(guessing)
		if len(got) == 1 && got[0].EventCount == 30 {
			break
		}
		if time.Now().After(deadline) {
			info := ""
			if st, err := f.js.Stream(ctx, "KUZET_CORRELATE"); err == nil {
				if si, err := st.Info(ctx); err == nil {
					info = fmt.Sprintf("%d signals in the stream", si.State.Msgs)
				}
			}
			for _, name := range []string{"kuzet_correlate_signals_total", "kuzet_correlate_signals_rejected_total",
				"kuzet_correlate_alert_updates_total", "kuzet_ncc_signals_rejected_total"} {
				info += fmt.Sprintf("; %s %v", name, find(reg, name, "", ""))
			}
			t.Fatalf("password guessing alerts: %+v (%s; first event: %s)", got, info, batch.Events[0])
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("one correlation alert of 30 events after %.1fs", time.Since(began).Seconds())
	a := got[0]
	if !a.Correlation || a.Org != "altyn-grid" || a.Object != "altyn-scada" || a.SourceIP != "45.155.205.233" || a.Version < 1 {
		t.Errorf("alert: %+v", a)
	}
	if base := alerts(baseRule); len(base) != 0 {
		t.Errorf("the base rule raised %d alerts of its own", len(base))
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		var ins []incident.Incident
		_, err := f.st.StreamIncidents(ctx, store.IncidentQuery{Limit: 10, Scope: access.EventScope{Org: "altyn-grid"}},
			func(doc []byte) error {
				var in incident.Incident
				err := json.Unmarshal(doc, &in)
				ins = append(ins, in)
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
		var found *incident.Incident
		for i, in := range ins {
			for _, r := range in.RuleIDs {
				if r == guessing {
					found = &ins[i]
				}
			}
		}
		if found != nil {
			// The OISC's duty to inform the NCC and the owner runs on it
			// (Art. 7-2): one hour from detection, pending.
			var kz *incident.Stage
			for i, st := range found.Stages {
				if st.Regime == "kz_oisc_to_ncc" {
					kz = &found.Stages[i]
				}
			}
			if kz == nil || kz.Status != incident.StagePending || !kz.DueAt.Equal(found.DetectedAt.Add(time.Hour)) {
				t.Fatalf("the incident's kz_oisc_to_ncc stage: %+v (detected %s; stages %+v)", kz, found.DetectedAt, found.Stages)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident of the correlation alert: %+v", ins)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestScanAcrossOrganisationsIsOneAlertSharedPerOrganisation sends one
// address's firewall denies and an IDS alert towards objects of several
// organisations, in several sectors, seen by two OISCs (the scan case of
// the rule pack, normalised by kuzet parse for each OISC): the scan
// correlation raises one alert, stored as one share per organisation,
// each share holding only that organisation's events, and each
// organisation's scope sees only its own share.
func TestScanAcrossOrganisationsIsOneAlertSharedPerOrganisation(t *testing.T) {
	const scanRule = "5b0c8b4e-7d3a-4a36-9a3e-2f1f6a1c0032"
	f := newFixture(t)
	root := conformance.ModuleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "pipelines", "rules", "testdata", "scan_critical_objects.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	type section struct {
		Name string
		Data []byte
	}
	var files []section // the archive's "-- name --" sections
	for line := range bytes.Lines(data) {
		if n, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("-- ")); ok && bytes.HasSuffix(n, []byte(" --")) {
			files = append(files, section{Name: string(bytes.TrimSuffix(n, []byte(" --")))})
		} else if len(files) > 0 {
			files[len(files)-1].Data = append(files[len(files)-1].Data, line...)
		}
	}
	header := regexp.MustCompile(`^(<\d+>1 )2026-11-30T(\d\d):(\d\d):(\d\d)\.000Z`)
	base := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	kuzet := proctest.Binary(t, "kuzet")
	events := map[string]map[string]bool{} // org -> event ids
	sectors, oiscs := map[string]bool{}, map[string]bool{}
	seq := uint64(1)
	for _, file := range files {
		var oisc string
		if _, err := fmt.Sscanf(file.Name, "fires %s syslog", &oisc); err != nil {
			continue
		}
		var raw bytes.Buffer
		for line := range bytes.Lines(file.Data) {
			m := header.FindSubmatch(line)
			if m == nil {
				continue
			}
			var h, mi, s int
			fmt.Sscanf(string(m[2])+" "+string(m[3])+" "+string(m[4]), "%d %d %d", &h, &mi, &s)
			at := base.Add(time.Duration((h-10)*3600+mi*60+s) * time.Second)
			rest := regexp.MustCompile(` date=\S+ time=\S+`).ReplaceAll(line[len(m[0]):], nil)
			raw.WriteString(string(m[1]) + at.Format(time.RFC3339) + string(rest))
		}
		in := filepath.Join(t.TempDir(), oisc+".log")
		if err := os.WriteFile(in, raw.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(kuzet, "parse", "--pipeline", "syslog", "--registry",
			filepath.Join(root, "configs", "registry.yaml"), "--oisc", oisc, in).Output()
		if err != nil {
			t.Fatalf("kuzet parse: %v", err)
		}
		batch := &bus.Batch{ID: bus.BatchID("c-"+oisc, seq), Collector: "c-" + oisc, OISC: oisc, CreatedAt: time.Now()}
		seq++
		for line := range bytes.Lines(out) {
			var ev struct {
				Kuzet struct {
					EventID string `json:"event_id"`
					Org     string `json:"org"`
					Sector  string `json:"sector"`
					OISC    string `json:"oisc"`
				} `json:"kuzet"`
			}
			line = bytes.TrimSpace(line)
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Kuzet.Org != "" {
				if events[ev.Kuzet.Org] == nil {
					events[ev.Kuzet.Org] = map[string]bool{}
				}
				events[ev.Kuzet.Org][ev.Kuzet.EventID] = true
				sectors[ev.Kuzet.Sector], oiscs[ev.Kuzet.OISC] = true, true
			}
			batch.Events = append(batch.Events, json.RawMessage(line))
		}
		if _, err := f.pub.Publish(context.Background(), bus.EventsSubject(oisc, batch.Collector), batch); err != nil {
			t.Fatal(err)
		}
	}
	if len(events) < 3 || len(sectors) < 2 || len(oiscs) < 2 {
		t.Fatalf("the case spans %d organisations, %d sectors, %d OISCs; want at least 3, 2, 2", len(events), len(sectors), len(oiscs))
	}
	cfg := f.cfg
	cfg.Correlation.Partitions, cfg.Incidents.Disabled = 4, true
	_ = start(t, cfg, prometheus.NewRegistry())
	shares := func(sc access.EventScope) []alert.Alert {
		return ruleAlerts(t, f.st, scanRule, sc)
	}
	var all []alert.Alert
	deadline := time.Now().Add(30 * time.Second)
	for {
		all = shares(access.EventScope{})
		if len(all) == len(events) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d shares of the scan alert, want %d (one per organisation): %+v", len(all), len(events), all)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, a := range all {
		if a.ID != all[0].ID {
			t.Errorf("shares of different ids: %s and %s", a.ID, all[0].ID)
		}
		for _, id := range a.EventIDs {
			if !events[a.Org][id] {
				t.Errorf("the share of %s holds event %s of another organisation", a.Org, id)
			}
		}
		if len(a.EventIDs) != len(events[a.Org]) {
			t.Errorf("the share of %s holds %d events, want its %d", a.Org, len(a.EventIDs), len(events[a.Org]))
		}
		mine := shares(access.EventScope{Org: a.Org})
		if len(mine) != 1 || mine[0].Org != a.Org {
			t.Errorf("%s's scope sees %d shares", a.Org, len(mine))
		}
	}
	t.Logf("one scan alert, %d organisation shares in %d sectors from %d OISCs", len(all), len(sectors), len(oiscs))
}

// ruleAlerts returns the stored alerts of a rule in scope sc; none while
// the ncc has not migrated the schema yet.
func ruleAlerts(t *testing.T, st *store.Store, rule string, sc access.EventScope) []alert.Alert {
	t.Helper()
	page, err := st.QueryAlerts(context.Background(), store.AlertQuery{Limit: 100, RuleIDs: []string{rule}, Scope: sc})
	if err != nil {
		return nil
	}
	var as []alert.Alert
	for _, d := range page.Events {
		var a alert.Alert
		if err := json.Unmarshal(d, &a); err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	return as
}
