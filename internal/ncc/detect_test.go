package ncc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// lsassDump is a Sysmon process creation the built-in rule pack flags.
func lsassDump(t *testing.T, cmd string) *event.Event {
	t.Helper()
	ev := &event.Event{Timestamp: time.Now().UTC()}
	if err := event.Stamp(ev, time.Now(), "c1", "oisc-astana", "win"); err != nil {
		t.Fatal(err)
	}
	ev.Kuzet.SourceType, ev.Kuzet.Asset = "winevent", event.AssetKnown
	ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector = "qazbank", "qazbank-cbs", "banking"
	ev.Host = &event.Host{Name: "cbs-app-01"}
	ev.Winlog = map[string]any{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
		"Image": `C:\Windows\System32\rundll32.exe`, "CommandLine": cmd}
	return ev
}

func (f *fixture) publishEvents(t *testing.T, seq int, evs ...*event.Event) {
	t.Helper()
	b := &bus.Batch{ID: bus.BatchID("c1", uint64(seq)), Collector: "c1", OISC: "oisc-astana", CreatedAt: time.Now()}
	for _, ev := range evs {
		doc, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Events = append(b.Events, doc)
	}
	if _, err := f.pub.Publish(context.Background(), bus.EventsSubject("oisc-astana", "c1"), b); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) alerts(t *testing.T) []alert.Alert {
	t.Helper()
	page, err := f.st.QueryAlerts(context.Background(), store.AlertQuery{Limit: 100})
	if err != nil {
		return nil
	}
	var out []alert.Alert
	for _, raw := range page.Events {
		var a alert.Alert
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestDetectionAlertsOnceThroughRedelivery(t *testing.T) {
	f := newFixture(t)
	hit := lsassDump(t, `rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Temp\l.dmp full`)
	miss := lsassDump(t, `rundll32.exe shell32.dll,Control_RunDLL`)
	f.publishEvents(t, 1, hit, miss)
	n, err := ncc.New(ncc.Options{Config: f.cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	n.SetAckHook(func([]bus.Delivery) bool { return !lost.CompareAndSwap(false, true) }) // the first acks are lost
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	// Redelivered after AckWait: events and alerts written twice, shown once.
	proctest.Eventually(t, 40*time.Second, func(ctx context.Context) error {
		var rows uint64
		if err := f.st.QueryRowScan(ctx, "SELECT count() FROM "+f.st.Table("alerts"), &rows); err != nil {
			return err
		}
		if !lost.Load() || rows < 2 {
			return fmt.Errorf("alert rows %d (redelivered: %v)", rows, lost.Load())
		}
		return nil
	})
	as := f.alerts(t)
	if len(as) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(as), as)
	}
	a := as[0]
	if a.ID != alert.ID(a.RuleID, hit.Kuzet.EventID) || a.Level != "critical" || a.EventIDs[0] != hit.Kuzet.EventID ||
		a.Org != "qazbank" || a.Sector != "banking" || a.Object != "qazbank-cbs" || a.RuleSet == "" ||
		len(a.Attack) == 0 || a.Attack[len(a.Attack)-1] != "attack.t1003.001" {
		t.Errorf("alert %+v", a)
	}
	// Published once to kuzet.alerts.<oisc>.<sector> (the retry was a duplicate).
	st, err := f.js.Stream(context.Background(), bus.AlertsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(context.Background())
	if info.State.Msgs != 1 {
		t.Errorf("alerts stream holds %d messages, want 1", info.State.Msgs)
	}
	m, _ := st.GetMsg(context.Background(), info.State.FirstSeq)
	if m == nil || m.Subject != bus.AlertsSubject("oisc-astana", "banking") {
		t.Errorf("alert subject %v", m)
	}
}

func TestRuleSetReloadsWithoutRestart(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	rule := func(word string) string {
		return `title: Custom ` + word + `
id: 11111111-2222-3333-4444-55555555555` + fmt.Sprint(len(word)%10) + `
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: '` + word + `'}
  condition: sel
level: high
`
	}
	if err := os.WriteFile(filepath.Join(dir, "custom.yml"), []byte(rule("first-word")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.Rules.Dirs = []string{dir}
	cfg.Rules.Reload = time.Second
	n := start(t, cfg, prometheus.NewRegistry())
	_ = n
	f.publishEvents(t, 1, lsassDump(t, "tool first-word"), lsassDump(t, "tool second-word-x"))
	proctest.Eventually(t, 20*time.Second, func(context.Context) error {
		if len(f.alerts(t)) != 1 {
			return fmt.Errorf("%d alerts", len(f.alerts(t)))
		}
		return nil
	})
	// Change the rule: the next events are matched by the new version.
	time.Sleep(1100 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(dir, "custom.yml"), []byte(rule("second-word-x")), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	f.publishEvents(t, 2, lsassDump(t, "tool first-word"), lsassDump(t, "tool second-word-x"))
	proctest.Eventually(t, 20*time.Second, func(context.Context) error {
		as := f.alerts(t)
		if len(as) != 2 {
			return fmt.Errorf("%d alerts", len(as))
		}
		if as[0].RuleSet == as[1].RuleSet || as[0].RuleTitle != "Custom second-word-x" {
			return fmt.Errorf("alerts %+v", as)
		}
		return nil
	})
}
