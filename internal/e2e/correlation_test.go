package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestFaultCorrelationOwnerKilled runs three kuzet-ncc processes on one
// NATS and sends password guessing from twelve addresses against a SCADA
// host of the demo registry, half of each burst before and half after one
// ncc (one that owns windows of them) is killed with SIGKILL: every burst's correlation alert appears
// exactly once in ClickHouse with every one of its 30 events, including
// the windows that were half-way when their owner died; the test prints
// how long the takeover took; and the incident stage, on the same
// instances, groups the alerts into one incident, each linked once.
func TestFaultCorrelationOwnerKilled(t *testing.T) {
	faultTest(t)
	const (
		guessing  = "5b0c8b4e-7d3a-4a36-9a3e-2f1f6a1c0012" // Password Guessing Against A Critical Object
		attackers = 12
		perBurst  = 30
	)
	c := newCluster(t, storetest.Config(t), false)
	coll, tcp := c.collector("c-corr", "oisc-almaty", "")
	coll.start(true)
	extra := "correlation: {partitions: 8}\nincidents:\n  partitions: 8\n  routes: [{name: default, group_by: [rule, object], " +
		"group_wait: 1s, group_interval: 2s, repeat_interval: 1h}]\n"
	nccs := []*role{c.nccNamed("ncc-a", extra), c.nccNamed("ncc-b", extra), c.nccNamed("ncc-c", extra)}
	for _, n := range nccs {
		n.start(true)
	}
	conn, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := 40000
	send := func(from, to int) {
		for i := from; i < to; i++ {
			for a := range attackers {
				port++
				fmt.Fprintf(conn, "<38>1 %s ems-01 sshd %d - - Failed password for root from 198.51.100.%d port %d ssh2\n",
					time.Now().UTC().Format(time.RFC3339Nano), 1000+i, 10+a, port)
			}
		}
	}
	count := func(ctx context.Context) (map[string]alert.Alert, error) {
		page, err := c.st.QueryAlerts(ctx, store.AlertQuery{Limit: 100, RuleIDs: []string{guessing}})
		if err != nil {
			return nil, err
		}
		got := map[string]alert.Alert{}
		for _, d := range page.Events {
			var a alert.Alert
			if err := json.Unmarshal(d, &a); err != nil {
				return nil, err
			}
			if _, dup := got[a.ID.String()]; dup {
				return nil, fmt.Errorf("alert %s stored twice", a.ID)
			}
			got[a.ID.String()] = a
		}
		return got, nil
	}
	// 25 of 30 attempts of each burst: every window has fired (20), none
	// is complete.
	send(0, 25)
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		got, err := count(ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, a := range got {
			if a.EventCount == 25 {
				n++
			}
		}
		if n != attackers {
			return fmt.Errorf("%d of %d bursts counted at 25 events", n, attackers)
		}
		return nil
	})
	// The victim must own some of the bursts' windows: kill the instance
	// that applied the most signals.
	victim, most := nccs[0], -1.0
	for _, n := range nccs {
		if v := n.metric(`kuzet_correlate_signals_total{result="applied"}`); v > most {
			victim, most = n, v
		}
	}
	if most <= 0 {
		t.Fatal("no ncc applied a signal")
	}
	killed := time.Now()
	victim.proc.Kill()
	send(25, perBurst)
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		got, err := count(ctx)
		if err != nil {
			return err
		}
		if len(got) != attackers {
			return fmt.Errorf("%d correlation alerts, want %d (one per attacker)", len(got), attackers)
		}
		for id, a := range got {
			if a.EventCount != perBurst {
				return fmt.Errorf("alert %s (%s) counts %d events, want %d", id, a.SourceIP, a.EventCount, perBurst)
			}
		}
		return nil
	})
	took := time.Since(killed)
	t.Logf("correlation takeover: every burst complete %.1fs after the SIGKILL of the ncc that had applied %.0f signals",
		took.Seconds(), most)
	if took > 10*time.Second {
		t.Errorf("takeover took %v, want under 10 s", took)
	}
	// The incident stage, partitioned across the same instances, groups
	// them: ems-01 is an OT gateway, so each burst also raised the OT
	// gateway guessing correlation; the two rules' incidents on the object
	// share the attackers' addresses and merge (entity linking) into one
	// incident of 24 alerts, each linked once.
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		var ins []incident.Incident
		if _, err := c.st.StreamIncidents(ctx, store.IncidentQuery{Limit: 50}, func(doc []byte) error {
			var in incident.Incident
			err := json.Unmarshal(doc, &in)
			if slices.Contains(in.RuleIDs, guessing) {
				ins = append(ins, in)
			}
			return err
		}); err != nil {
			return err
		}
		var open []incident.Incident
		for _, in := range ins {
			if in.DuplicateOf == "" {
				open = append(open, in)
			}
		}
		if len(open) != 1 || open[0].AlertCount != 2*attackers {
			return fmt.Errorf("password guessing incidents: %d not merged (alerts %v), want one of %d alerts", len(open), alertCounts(open), 2*attackers)
		}
		ins = open
		d, err := c.st.GetIncident(ctx, ins[0].ID, access.EventScope{}, 100)
		if err != nil {
			return err
		}
		if len(d.Alerts) != 2*attackers {
			return fmt.Errorf("the incident links %d alerts, want %d", len(d.Alerts), 2*attackers)
		}
		return nil
	})
}

func alertCounts(ins []incident.Incident) []int {
	var out []int
	for _, in := range ins {
		out = append(out, in.AlertCount)
	}
	return out
}
