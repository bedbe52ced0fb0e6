package bus_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// TestPlacementTagsPlaceStreamsAndBuckets runs a three-server NATS
// cluster whose servers are tagged az:1, az:2 and az:3: a role with
// nats.placement_tags [az:2] creates the events streams and a key-value
// bucket on the az:2 server only; a tag no server has fails the creation
// with the server's reason.
func TestPlacementTagsPlaceStreamsAndBuckets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS cluster")
	}
	p := freePorts(t, 6)
	var routes, urls []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p[3+i]))
	}
	for i := range 3 {
		s, err := natsserver.Start(natsserver.Options{Name: fmt.Sprintf("s%d", i+1), Port: p[i], StoreDir: t.TempDir(),
			Tags:    []string{fmt.Sprintf("az:%d", i+1)},
			Cluster: natsserver.Cluster{Name: "placement", Port: p[3+i], Routes: routes}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		urls = append(urls, s.ClientURL())
	}
	ctx := context.Background()
	dial := func(tags ...string) jetstream.JetStream {
		cfg := config.DefaultNATS()
		cfg.URL, cfg.Replicas, cfg.PlacementTags = strings.Join(urls, ","), 1, tags
		c, err := bus.Dial(cfg, "placement-test", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.JetStream()
	}
	js := dial("az:2")
	// JetStream's meta leader is elected some seconds after the routes form.
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		return bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions())
	})
	if _, err := bus.OpenAuditHeads(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bus.EventsStream, "KV_" + bus.AuditHeadsBucket} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Cluster == nil || info.Cluster.Leader != "s2" || info.Config.Placement == nil || info.Config.Placement.Tags[0] != "az:2" {
			t.Errorf("%s is on %+v with placement %+v; want on s2 (az:2)", name, info.Cluster, info.Config.Placement)
		}
	}
	nowhere := dial("az:9")
	_, err := nowhere.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "NOWHERE", Subjects: []string{"nowhere.>"}, MaxBytes: 1 << 20})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "no suitable peers") {
		t.Errorf("a stream placed on a tag no server has: %v; want the server's 'no suitable peers'", err)
	}
}
