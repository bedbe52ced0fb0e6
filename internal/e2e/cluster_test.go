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
	"github.com/kuzet-kz/kuzet/internal/proctest"
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
