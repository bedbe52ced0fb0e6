package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestFaultNCCKilledBeforeSending kills the ncc with SIGKILL between
// computing an incident's notification stage and sending it, at two points:
// after the outbox holds the jobs but before the incident is written, and
// after the incident is written with its stage pending, just before the
// delivery. The restarted ncc sends each notification exactly once: a
// subscriber of the recipients' subjects sees each id once, the delivery
// log has one sent row per notification, and the stage is sent.
func TestFaultNCCKilledBeforeSending(t *testing.T) {
	faultTest(t)
	for _, point := range []string{"incident.before_write", "notify.before_send"} {
		t.Run(point, func(t *testing.T) {
			c := newCluster(t, storetest.Config(t), false)
			root := conformance.ModuleRoot(t)
			coll, tcp := c.collector("c-notify", "oisc-almaty", "")
			coll.start(true)
			extra := fmt.Sprintf("incidents:\n  partitions: 4\n  regimes_file: %s\n  rsit_file: %s\n"+
				"  routes: [{name: default, group_by: [rule, object], group_wait: 500ms, group_interval: 1s, repeat_interval: 1h}]\n"+
				"notifications: {backoff: 200ms, max_backoff: 1s}\n",
				filepath.Join(root, "configs", "regimes.yaml"), filepath.Join(root, "configs", "rsit.yaml"))
			n := c.nccNamed("ncc-1", extra)
			// The regimes file names its calendar relative to the working
			// directory: the ncc runs from the module root, as make run does.
			n.dir = root
			nc, err := nats.Connect(c.natsURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			var mu sync.Mutex
			got := map[string]int{}
			if _, err := nc.Subscribe("kuzet.notify.*.*", func(m *nats.Msg) {
				mu.Lock()
				got[m.Header.Get(notify.HeaderNotificationID)]++
				mu.Unlock()
			}); err != nil {
				t.Fatal(err)
			}
			n.start(true, "KUZET_FAILPOINT="+point+":1")
			conn, err := net.Dial("tcp", tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A root shell on a Dala Heat boiler HMI (OISC Almaty sends
			// automatically; Dala Heat receives by NATS).
			fmt.Fprintf(conn, "<85>%s boiler-hmi-1 sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash\n",
				time.Now().In(time.FixedZone("ALMT", 5*3600)).Format(time.Stamp))
			select {
			case <-n.proc.Done():
			case <-time.After(60 * time.Second):
				t.Fatalf("the ncc did not reach %s:\n%s", point, n.proc.Output())
			}
			mu.Lock()
			before := len(got)
			mu.Unlock()
			if before != 0 {
				t.Fatalf("%d notifications went out before the kill at %s", before, point)
			}
			n.start(true)
			var in incident.Incident
			proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
				var ins []incident.Incident
				if _, err := c.st.StreamIncidents(ctx, store.IncidentQuery{Limit: 10, National: new(bool)}, func(doc []byte) error {
					var in incident.Incident
					err := json.Unmarshal(doc, &in)
					ins = append(ins, in)
					return err
				}); err != nil {
					return err
				}
				if len(ins) != 1 {
					return fmt.Errorf("%d incidents, want 1", len(ins))
				}
				in = ins[0]
				for _, s := range in.Stages {
					if s.Regime == "kz_oisc_to_ncc" && s.Status == incident.StageSent && len(s.Notifications) == 2 {
						return nil
					}
				}
				return fmt.Errorf("stages %+v", in.Stages)
			})
			time.Sleep(2 * time.Second) // a second send would have arrived by now
			mu.Lock()
			defer mu.Unlock()
			for _, s := range in.Stages {
				for _, nt := range s.Notifications {
					if s.Regime == "kz_oisc_to_ncc" && got[nt.ID] != 1 {
						t.Errorf("notification %s to %s received %d times, want once", nt.ID, nt.Recipient, got[nt.ID])
					}
				}
			}
			if len(got) != 2 {
				t.Errorf("%d distinct notifications received (%v), want 2", len(got), got)
			}
			log, err := c.st.NotificationLog(context.Background(), in.ID, access.EventScope{})
			if err != nil {
				t.Fatal(err)
			}
			sent := map[string]int{}
			for _, e := range log {
				if e.Outcome == store.DeliverySent {
					sent[e.NotificationID]++
				}
			}
			if len(sent) != 2 {
				t.Errorf("delivery log: %v, want two notifications sent once each", sent)
			}
			for id, k := range sent {
				if k != 1 {
					t.Errorf("delivery log: %s sent %d times", id, k)
				}
			}
		})
	}
}
