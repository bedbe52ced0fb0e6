package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestClusterStreamLeaderKilled runs a three-node NATS cluster (three
// `kuzet nats -cluster` processes) with R3 streams, a collector and an ncc
// that know all three URLs, and kills the events stream's leader with
// SIGKILL under a steady feed: the stream elects another leader, the
// clients reconnect to the survivors, the killed member catches up after
// its restart, and `kuzet verify` finds every accepted event stored once.
func TestClusterStreamLeaderKilled(t *testing.T) {
	faultTest(t)
	c := newNATSCluster(t, storetest.Config(t), 3)
	nc, err := nats.Connect(c.natsURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	n := c.ncc("")
	n.start(true)
	coll, tcp := c.collector("c-cluster", "oisc-astana", "")
	coll.start(true)
	feed := startFeeder(tcp, 300)
	time.Sleep(3 * time.Second)

	info := streamInfo(t, js, bus.EventsStream, "")
	if info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("events stream has %d replicas (%d peers besides the leader), want R3", info.Config.Replicas, len(info.Cluster.Replicas))
	}
	var leader *member
	for _, m := range c.members {
		if m.name == info.Cluster.Leader {
			leader = m
		}
	}
	if leader == nil {
		t.Fatalf("stream leader %q is none of the members", info.Cluster.Leader)
	}
	killed := time.Now()
	leader.proc.Kill()
	after := streamInfo(t, js, bus.EventsStream, leader.name)
	t.Logf("events stream leader %s killed; %s took over within %.1fs", leader.name, after.Cluster.Leader, time.Since(killed).Seconds())
	time.Sleep(3 * time.Second)
	c.startMember(leader)
	time.Sleep(2 * time.Second)
	sent := feed.stop()
	rep := c.settle(90*time.Second, sent)
	record(t, "NATS cluster: events stream leader SIGKILLed", sent, rep)
	if !rep.OK() || int64(rep.Accepted) != sent || rep.Stored != rep.Accepted {
		t.Errorf("sent %d: %+v", sent, rep)
	}
	// The same count through the command operators run.
	v := proctest.Start(t, "", proctest.Binary(t, "kuzet"), []string{"verify", "-clickhouse", c.ch.Addr[0],
		"-database", c.ch.Database, filepath.Join(c.dir, "collectors")})
	if code := v.Wait(60 * time.Second); code != 0 || !strings.Contains(v.Output(), "lost 0\nduplicated 0\n") {
		t.Errorf("kuzet verify exited %d:\n%s", code, v.Output())
	}
	// The restarted member is a current replica again.
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		info := streamInfo(t, js, bus.EventsStream, "")
		for _, p := range info.Cluster.Replicas {
			if !p.Current {
				return fmt.Errorf("replica %s not current (lag %d)", p.Name, p.Lag)
			}
		}
		if len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("%d peers besides the leader", len(info.Cluster.Replicas))
		}
		return nil
	})
}

// streamInfo waits for the stream to have a leader other than not and
// returns its info.
func streamInfo(t *testing.T, js jetstream.JetStream, name, not string) *jetstream.StreamInfo {
	t.Helper()
	var info *jetstream.StreamInfo
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		// Without a leader nobody answers: ask often.
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		st, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		info, err = st.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == not {
			return errors.New("no new stream leader yet")
		}
		return nil
	})
	return info
}

// TestClusterTwoNCCsOnReplicatedClickHouse runs the NCC past one machine:
// a three-node NATS cluster with R3 streams, two ClickHouse replicas on
// ZooKeeper with kuzet's tables in cluster mode (migrated by the first
// ncc), and two ncc instances, each writing to its own replica first,
// under a steady feed from a collector. Replica 2 is stopped under the
// writes (its ncc fails over to replica 1), ncc-a is killed with SIGKILL
// (ncc-b takes every partition of the correlation and incident stages
// and the shared consumer's work), replica 2 is started again: every
// accepted event is stored once, read through the Distributed table on
// either replica (kuzet verify on replica 2), replica 2 holds every row
// again, and ncc-b ran throughout.
func TestClusterTwoNCCsOnReplicatedClickHouse(t *testing.T) {
	faultTest(t)
	r := storetest.Replicated(t)
	db := storetest.ClusterDatabase(t)
	ch := storetest.ClusterConfig(t, db, 0)
	r1, r2 := r.Servers[0].Addr(), r.Servers[1].Addr()
	ch.Addr = []string{r1, r2}
	c := newNATSCluster(t, ch, 3)
	chB := ch
	chB.Addr = []string{r2, r1}
	a := c.nccOn("ncc-a", ch, "")
	a.start(true) // migrates the cluster's schema
	b := c.nccOn("ncc-b", chB, "")
	b.start(true)
	coll, tcp := c.collector("c-replicated", "oisc-astana", "")
	coll.start(true)
	feed := startFeeder(tcp, 300)
	time.Sleep(3 * time.Second)

	second := r.Servers[1]
	if err := second.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	a.proc.Kill()
	owned := func(stage string) float64 {
		return b.metric(`kuzet_stage_partitions_owned{stage="` + stage + `"}`)
	}
	proctest.Eventually(t, 30*time.Second, func(context.Context) error {
		for _, stage := range []string{"correlation", "incidents"} {
			if n := owned(stage); n != 16 {
				return fmt.Errorf("ncc-b owns %.0f of the 16 %s partitions", n, stage)
			}
		}
		return nil
	})
	restarted, err := chlocal.Start(context.Background(), second.Options())
	if err != nil {
		t.Fatal(err)
	}
	r.Servers[1] = restarted
	time.Sleep(2 * time.Second)
	sent := feed.stop()
	rep := c.settle(90*time.Second, sent)
	record(t, "two ncc on replicated ClickHouse: replica 2 stopped, ncc-a SIGKILLed", sent, rep)
	if !rep.OK() || int64(rep.Accepted) != sent || rep.Stored != rep.Accepted {
		t.Errorf("sent %d: %+v", sent, rep)
	}
	select {
	case <-b.proc.Done():
		t.Fatalf("ncc-b exited:\n%s", b.proc.Output())
	default:
	}
	// Replica 2 caught up: its own copy holds every event, once after
	// merging (FINAL). Without FINAL it may hold a batch twice: ncc-a was
	// killed between an INSERT and its ack, and ncc-b wrote the batch again
	// in blocks of its own, which ReplacingMergeTree, not block
	// deduplication, folds.
	st2 := openStore(t, storetest.ClusterConfig(t, db, 1))
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		var rows, ids uint64
		if err := st2.QueryRowScan(ctx, "SELECT count(), uniqExact(event_id) FROM "+st2.Table("events"+store.LocalSuffix)+" FINAL", &rows, &ids); err != nil {
			return err
		}
		if ids != uint64(rep.Stored) || rows != ids {
			return fmt.Errorf("replica 2 holds %d rows of %d events; want %d of %d", rows, ids, rep.Stored, rep.Stored)
		}
		return nil
	})
	// The operators' count, read through replica 2's Distributed table.
	v := proctest.Start(t, "", proctest.Binary(t, "kuzet"), []string{"verify", "-clickhouse", r2,
		"-database", db, filepath.Join(c.dir, "collectors")})
	if code := v.Wait(60 * time.Second); code != 0 || !strings.Contains(v.Output(), "lost 0\nduplicated 0\n") {
		t.Errorf("kuzet verify on replica 2 exited %d:\n%s", code, v.Output())
	}
	// The operators' key tool opens the cluster's database (its
	// migrations find everything applied) and refuses it without -cluster.
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"-cluster", storetest.ClusterName}, 0}, {nil, 1}} {
		k := proctest.Start(t, "", proctest.Binary(t, "kuzet"), append([]string{"apikey", "list", "-clickhouse", r2, "-database", db}, c.args...))
		if code := k.Wait(60 * time.Second); code != c.code {
			t.Errorf("kuzet apikey list %v exited %d, want %d:\n%s", c.args, code, c.code, k.Output())
		}
	}
	// The feed's failed logins raised alerts; each is stored once.
	var alerts, alertIDs uint64
	if err := st2.QueryRowScan(context.Background(), "SELECT count(), uniqExact(alert_id, org) FROM "+st2.Table("alerts")+" FINAL", &alerts, &alertIDs); err != nil {
		t.Fatal(err)
	}
	if alerts == 0 || alerts != alertIDs {
		t.Errorf("%d alert rows of %d alert shares; want as many, and some", alerts, alertIDs)
	}
	t.Logf("replicated ClickHouse: %d events, %d alerts; ncc-b owns every partition", rep.Stored, alerts)
}

func openStore(t *testing.T, cfg config.ClickHouse) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
