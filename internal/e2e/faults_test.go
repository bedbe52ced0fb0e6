package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// outage is how long the outages of the fault scenarios last; the issue
// asks for a minute. KUZET_FAULT_OUTAGE shortens it for local iterations.
func outage(t *testing.T) time.Duration {
	if d, err := time.ParseDuration(getenv("KUZET_FAULT_OUTAGE", "60s")); err == nil {
		return d
	}
	return time.Minute
}

func faultTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection runs processes and servers")
	}
	t.Parallel()
}

// TestFaultNCCKilled kills the ncc with SIGKILL at random points of a
// steady feed, and once exactly between an INSERT and its ack: every event
// is stored, and exact queries show each once.
func TestFaultNCCKilled(t *testing.T) {
	faultTest(t)
	c := newCluster(t, storetest.Config(t), false)
	coll, tcp := c.collector("c-nccfault", "oisc-astana", "")
	coll.start(true)
	n := c.ncc("")
	n.start(false, "KUZET_FAILPOINT=ncc-after-insert:5")
	feed := startFeeder(tcp, 300)
	// First crash: the failpoint, after the 5th insert, before its ack.
	if code := n.proc.Wait(60 * time.Second); code != -1 && code != 137 {
		t.Logf("ncc exit code %d after the failpoint", code)
	}
	n.start(false)
	for i := 0; i < 3; i++ {
		time.Sleep(time.Duration(1500+rand.IntN(2500)) * time.Millisecond)
		n.proc.Kill()
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		n.start(false)
	}
	time.Sleep(2 * time.Second)
	sent := feed.stop()
	rep := c.settle(90*time.Second, sent)
	record(t, "ncc SIGKILL x4 (one between insert and ack)", sent, rep)
	if !rep.OK() || int64(rep.Accepted) != sent || rep.Stored != rep.Accepted {
		t.Errorf("sent %d: %+v", sent, rep)
	}
	if n.starts < 5 {
		t.Errorf("ncc started %d times, want 5", n.starts)
	}
}

// TestFaultCollectorKilled kills the collector with SIGKILL while it
// receives syslog over TCP, after it has taken records off the socket: no
// accepted event is lost.
func TestFaultCollectorKilled(t *testing.T) {
	faultTest(t)
	c := newCluster(t, storetest.Config(t), false)
	n := c.ncc("")
	n.start(false)
	coll, tcp := c.collector("c-collfault", "oisc-astana", "")
	coll.start(true, "KUZET_FAILPOINT=collector-after-publish:4")
	feed := startFeeder(tcp, 300)
	crashThrice(coll)
	time.Sleep(2 * time.Second)
	sent := feed.stop()
	time.Sleep(time.Second)
	rep := c.settle(90*time.Second, 0)
	record(t, "collector SIGKILL x3 under TCP syslog", sent, rep)
	if !rep.OK() {
		t.Errorf("sent %d: %+v", sent, rep)
	}
	// Records in flight in the kernel or the collector's socket buffer when
	// it died were never accepted; everything accepted is stored.
	if rep.Accepted == 0 || int64(rep.Accepted) > sent {
		t.Errorf("accepted %d of %d sent", rep.Accepted, sent)
	}
}

// TestFaultClickHouseDown stops a private ClickHouse for an outage under a
// steady feed: the ncc stops acking, reports not ready, and catches up
// afterwards with nothing lost.
func TestFaultClickHouseDown(t *testing.T) {
	faultTest(t)
	chDir := t.TempDir()
	srv, err := chlocal.Start(context.Background(), chlocal.Options{Dir: chDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Kill() })
	cfg := config.DefaultClickHouse()
	cfg.Addr, cfg.Database = []string{srv.Addr()}, "faults"
	c := newCluster(t, cfg, false)
	n := c.ncc("")
	n.start(true)
	coll, tcp := c.collector("c-chfault", "oisc-astana", "")
	coll.start(true)
	feed := startFeeder(tcp, 200)
	time.Sleep(3 * time.Second)
	ackedBefore := n.metric("kuzet_ncc_batches_acked_total")
	tcpPort, httpPort := portOf(srv.Addr()), portOf(srv.HTTPAddr())
	_ = srv.Stop(context.Background())
	down := outage(t)
	deadline := time.Now().Add(down)
	time.Sleep(5 * time.Second)
	code, _ := httpStatus(context.Background(), "http://"+n.ops+"/readyz")
	if code != 503 {
		t.Errorf("ncc /readyz = %d while ClickHouse is down, want 503", code)
	}
	if up := n.metric("kuzet_ncc_store_up"); up != 0 {
		t.Errorf("kuzet_ncc_store_up = %v while down", up)
	}
	acked := n.metric("kuzet_ncc_batches_acked_total")
	time.Sleep(time.Until(deadline))
	if again := n.metric("kuzet_ncc_batches_acked_total"); again != acked {
		t.Errorf("the ncc acked %v batches while ClickHouse was down", again-acked)
	}
	if acked < ackedBefore {
		t.Errorf("acked counter went back")
	}
	srv, err = chlocal.Start(context.Background(), chlocal.Options{Dir: chDir, TCPPort: tcpPort, HTTPPort: httpPort})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	sent := feed.stop()
	rep := c.settle(120*time.Second, sent)
	record(t, fmt.Sprintf("ClickHouse down %s", down), sent, rep)
	if !rep.OK() || int64(rep.Accepted) != sent {
		t.Errorf("sent %d: %+v", sent, rep)
	}
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if code, err := httpStatus(ctx, "http://"+n.ops+"/readyz"); err != nil || code != 200 {
			return fmt.Errorf("readyz %d %v", code, err)
		}
		return nil
	})
}

// TestFaultNATSRestarted restarts the NCC's NATS server under load.
func TestFaultNATSRestarted(t *testing.T) {
	faultTest(t)
	c := newCluster(t, storetest.Config(t), false)
	n := c.ncc("")
	n.start(true)
	coll, tcp := c.collector("c-natsfault", "oisc-astana", "")
	coll.start(true)
	feed := startFeeder(tcp, 300)
	time.Sleep(3 * time.Second)
	c.nats.Signal(syscall.SIGTERM)
	c.nats.Wait(30 * time.Second)
	time.Sleep(5 * time.Second)
	c.startNATS()
	time.Sleep(5 * time.Second)
	c.nats.Kill() // and once without a clean shutdown
	c.startNATS()
	time.Sleep(5 * time.Second)
	sent := feed.stop()
	rep := c.settle(120*time.Second, sent)
	record(t, "NCC NATS restarted (SIGTERM, then SIGKILL)", sent, rep)
	if !rep.OK() || int64(rep.Accepted) != sent {
		t.Errorf("sent %d: %+v", sent, rep)
	}
}

// TestFaultLeafLinkCut cuts the link between a site's leaf node (embedded
// in the collector) and the NCC for an outage under load.
func TestFaultLeafLinkCut(t *testing.T) {
	faultTest(t)
	c := newCluster(t, storetest.Config(t), true)
	proxy := proctest.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", c.leafPort))
	n := c.ncc("sites: [{domain: site-astana, oisc: oisc-astana}]")
	n.start(true)
	coll, tcp := c.collector("c-sitefault", "oisc-astana", fmt.Sprintf(`
site:
  domain: site-astana
  embedded: true
  hub: nats-leaf://%s
  %s  max_bytes: 1073741824
  max_age: 24h
  overflow: block
`, proxy.Addr(), siteUser))
	coll.start(true)
	feed := startFeeder(tcp, 300)
	time.Sleep(3 * time.Second)
	proxy.Cut()
	down := outage(t)
	time.Sleep(down / 2)
	if b := coll.metric("kuzet_collector_site_buffered_batches"); b <= 0 {
		t.Errorf("site buffer holds %v batches while the link is cut", b)
	}
	if age := coll.metric("kuzet_collector_site_oldest_buffered_seconds"); age <= 0 {
		t.Errorf("oldest buffered age %v while cut", age)
	}
	time.Sleep(down - down/2)
	proxy.Restore()
	time.Sleep(3 * time.Second)
	sent := feed.stop()
	rep := c.settle(120*time.Second, sent)
	record(t, fmt.Sprintf("leaf link cut %s", down), sent, rep)
	if !rep.OK() || int64(rep.Accepted) != sent {
		t.Errorf("sent %d: %+v", sent, rep)
	}
	// The ncc inspects the site through its leaf user's permissions: it
	// finds nothing under another OISC's subjects (internal/bus's
	// TestSiteBufferSourcedAcrossLinkCut writes some and counts them).
	proctest.Eventually(t, 15*time.Second, func(context.Context) error {
		if v := n.metric(`kuzet_site_foreign_subject_messages{site="site-astana"}`); v != 0 {
			return fmt.Errorf("kuzet_site_foreign_subject_messages = %v, want 0 (present)", v)
		}
		if !strings.Contains(n.metrics(), `kuzet_site_foreign_subject_messages{site="site-astana"} 0`) {
			return errors.New("kuzet_site_foreign_subject_messages not exported yet")
		}
		return nil
	})
}

func portOf(addr string) int {
	var p int
	fmt.Sscan(addr[strings.LastIndexByte(addr, ':')+1:], &p)
	return p
}

// TestFaultCollectorKilledTailingFile kills the collector with SIGKILL
// while it tails a file that keeps growing: every line is stored once.
func TestFaultCollectorKilledTailingFile(t *testing.T) {
	faultTest(t)
	c := newCluster(t, storetest.Config(t), false)
	n := c.ncc("")
	n.start(false)
	logDir := t.TempDir()
	coll, _ := c.collector("c-filefault", "oisc-astana", fmt.Sprintf(`
  - {name: auth-log, type: file, paths: [%q], pipeline: syslog}
`, filepath.Join(logDir, "*.log")))
	coll.start(true, "KUZET_FAILPOINT=collector-after-publish:3")
	w := startFileWriter(filepath.Join(logDir, "auth.log"), 300)
	crashThrice(coll)
	time.Sleep(2 * time.Second)
	written := w.stop()
	rep := c.settle(90*time.Second, written)
	record(t, "collector SIGKILL x3 while tailing a file", written, rep)
	if !rep.OK() || int64(rep.Accepted) != written || rep.Stored != rep.Accepted {
		t.Errorf("written %d: %+v", written, rep)
	}
}

// crashThrice waits for a collector started with a failpoint to crash
// (after JetStream stored a batch, before the spool knew), restarts it,
// then kills it with SIGKILL twice more at random moments of the feed.
func crashThrice(coll *role) {
	coll.proc.Wait(60 * time.Second)
	coll.start(true)
	for i := 0; i < 2; i++ {
		time.Sleep(time.Duration(1500+rand.IntN(1500)) * time.Millisecond)
		coll.proc.Kill()
		coll.start(true)
	}
}
