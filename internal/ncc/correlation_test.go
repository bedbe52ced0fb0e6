package ncc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
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
	cfg.Incidents.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 500 * time.Millisecond, GroupInterval: time.Second, RepeatInterval: time.Hour}}
	began := time.Now()
	reg := prometheus.NewRegistry()
	_ = start(t, cfg, reg)
	ctx := context.Background()
	alerts := func(rule string) []store.Alert {
		page, err := f.st.QueryAlerts(ctx, store.AlertQuery{Limit: 100, RuleIDs: []string{rule}})
		if err != nil {
			return nil // the ncc has not migrated the schema yet
		}
		var as []store.Alert
		for _, d := range page.Events {
			var a store.Alert
			if err := json.Unmarshal(d, &a); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		return as
	}
	var got []store.Alert
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
		found := false
		for _, in := range ins {
			for _, r := range in.RuleIDs {
				found = found || r == guessing
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident of the correlation alert: %+v", ins)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
