package chlocal

import (
	"context"
	"fmt"
	"html"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// ReplicaConfig is the configuration XML (Options.Extra) that makes a
// server one replica of a one-shard cluster: the cluster's replicas
// (native addresses, internal_replication so a Distributed table writes
// each block to one replica and replication copies it), ZooKeeper, the
// {shard} and {replica} macros, and the queue of ON CLUSTER statements.
func ReplicaConfig(cluster string, replicas []string, zookeeper, replica string) string {
	var b strings.Builder
	b.WriteString("  <remote_servers>\n    <" + cluster + ">\n      <shard>\n        <internal_replication>true</internal_replication>\n")
	for _, r := range replicas {
		host, port, _ := net.SplitHostPort(r)
		fmt.Fprintf(&b, "        <replica><host>%s</host><port>%s</port></replica>\n", html.EscapeString(host), port)
	}
	b.WriteString("      </shard>\n    </" + cluster + ">\n  </remote_servers>\n")
	zh, zp, _ := net.SplitHostPort(zookeeper)
	fmt.Fprintf(&b, "  <zookeeper>\n    <node><host>%s</host><port>%s</port></node>\n    <session_timeout_ms>10000</session_timeout_ms>\n  </zookeeper>\n",
		html.EscapeString(zh), zp)
	fmt.Fprintf(&b, "  <macros>\n    <shard>01</shard>\n    <replica>%s</replica>\n  </macros>\n", html.EscapeString(replica))
	b.WriteString("  <distributed_ddl>\n    <path>/clickhouse/task_queue/ddl</path>\n  </distributed_ddl>\n")
	return b.String()
}

// Replicated is a one-shard cluster of ClickHouse replicas on one
// ZooKeeper, all on loopback.
type Replicated struct {
	Name      string
	ZooKeeper *ZooKeeper
	Servers   []*Server
}

// StartReplicated starts ZooKeeper and n replicas of the cluster named
// name, with their data under dir.
func StartReplicated(ctx context.Context, dir, name string, n int) (*Replicated, error) {
	zk, err := StartZooKeeper(ctx, filepath.Join(dir, "zookeeper"))
	if err != nil {
		return nil, err
	}
	r := &Replicated{Name: name, ZooKeeper: zk}
	ports, err := FreePorts(3 * n)
	if err != nil {
		zk.Stop()
		return nil, err
	}
	var addrs []string
	for i := range n {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[3*i])))
	}
	for i := range n {
		s, err := Start(ctx, Options{
			Dir:     filepath.Join(dir, "replica-"+strconv.Itoa(i+1)),
			TCPPort: ports[3*i], HTTPPort: ports[3*i+1], InterserverPort: ports[3*i+2],
			Extra: ReplicaConfig(name, addrs, zk.Addr(), "replica-"+strconv.Itoa(i+1)),
		})
		if err != nil {
			r.Stop(ctx)
			return nil, err
		}
		r.Servers = append(r.Servers, s)
	}
	return r, nil
}

// Addrs are the replicas' native addresses.
func (r *Replicated) Addrs() []string {
	var a []string
	for _, s := range r.Servers {
		a = append(a, s.Addr())
	}
	return a
}

// Stop stops every replica and ZooKeeper.
func (r *Replicated) Stop(ctx context.Context) {
	for _, s := range r.Servers {
		_ = s.Stop(ctx)
	}
	r.ZooKeeper.Stop()
}
