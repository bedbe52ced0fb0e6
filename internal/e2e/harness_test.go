package e2e_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/verify"
)

// cluster is a set of kuzet processes for fault tests: a NATS server
// (kuzet nats), collectors and ncc instances, each restartable and killable,
// on free loopback ports, with ClickHouse given by the test.
type cluster struct {
	t        *testing.T
	dir      string
	ch       config.ClickHouse
	natsPort int
	leafPort int
	natsArgs []string
	nats     *proctest.Proc
	st       *store.Store
	// members, when set, are the servers of a NATS cluster (kuzet nats
	// -cluster) in place of the one server; replicas is then the roles'
	// nats.replicas.
	members  []*member
	replicas int
}

// member is one server of a NATS cluster.
type member struct {
	name string
	port int
	args []string
	proc *proctest.Proc
}

func newCluster(t *testing.T, ch config.ClickHouse, hub bool) *cluster {
	t.Helper()
	p := ports(t, 2)
	c := &cluster{t: t, dir: t.TempDir(), ch: ch, natsPort: p[0]}
	c.natsArgs = []string{"nats", "-port", fmt.Sprint(p[0]), "-store", filepath.Join(c.dir, "nats"), "-log-level", "warn",
		"-max-store", fmt.Sprint(bustest.MaxStore)}
	if hub {
		c.leafPort = p[1]
		// Each site connects as its own leaf user (siteUser).
		pw := writeFile(t, c.dir, "leaf-site-astana.pass", "site-astana-s3cret\n")
		users := writeFile(t, c.dir, "leaf-users.yaml", fmt.Sprintf("- {site: site-astana, user: site-astana, password_file: %s}\n", pw))
		c.natsArgs = append(c.natsArgs, "-domain", "ncc", "-leaf-port", fmt.Sprint(p[1]), "-leaf-users", users)
	}
	c.startNATS()
	if hub {
		// A site's leaf user may read the registry at the hub, not write
		// it: the NCC imports it.
		c.importRegistry()
	}
	st, err := store.Open(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.st = st
	return c
}

// siteUser is the collector's site section's credentials for site-astana
// at a hub cluster.
const siteUser = "hub_user: site-astana\n  hub_password: site-astana-s3cret\n"

func (c *cluster) natsURL() string {
	if len(c.members) == 0 {
		return fmt.Sprintf("nats://127.0.0.1:%d", c.natsPort)
	}
	var urls []string
	for _, m := range c.members {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", m.port))
	}
	return strings.Join(urls, ",")
}

// natsYAML is the roles' nats section.
func (c *cluster) natsYAML() string {
	return fmt.Sprintf("{url: %q, replicas: %d}", c.natsURL(), max(c.replicas, 1))
}

// newNATSCluster is a cluster whose NATS is n clustered `kuzet nats`
// servers (n1, n2, ...) with JetStream, and roles that create their
// streams with n replicas and know every member's URL.
func newNATSCluster(t *testing.T, ch config.ClickHouse, n int) *cluster {
	t.Helper()
	p := ports(t, 2*n)
	c := &cluster{t: t, dir: t.TempDir(), ch: ch, replicas: n}
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p[n+i]))
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("n%d", i+1)
		c.members = append(c.members, &member{name: name, port: p[i], args: []string{"nats", "-name", name,
			"-port", fmt.Sprint(p[i]), "-store", filepath.Join(c.dir, "nats-"+name), "-log-level", "warn",
			"-max-store", fmt.Sprint(bustest.MaxStore),
			"-cluster", "kuzet-test", "-cluster-port", fmt.Sprint(p[n+i]), "-routes", strings.Join(routes, ",")}})
	}
	for _, m := range c.members {
		c.startMember(m)
	}
	// The roles create their streams at start: wait for JetStream's meta
	// leader and for every member to be a peer.
	nc, err := nats.Connect(c.natsURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		m, err := nc.RequestWithContext(ctx, "$JS.API.INFO", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(m.Data), `"type":"io.nats.jetstream.api.v1.account_info_response"`) || strings.Contains(string(m.Data), `"error"`) {
			return fmt.Errorf("jetstream not ready: %s", m.Data)
		}
		return nil
	})
	st, err := store.Open(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.st = st
	return c
}

func (c *cluster) startMember(m *member) {
	c.t.Helper()
	m.proc = proctest.Start(c.t, "", proctest.Binary(c.t, "kuzet"), m.args)
	if !m.proc.WaitOutput(30*time.Second, "nats nats://") {
		c.t.Fatalf("kuzet nats %s did not start:\n%s", m.name, m.proc.Output())
	}
}

func (c *cluster) importRegistry() {
	c.t.Helper()
	nc, err := nats.Connect(c.natsURL())
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	reg, err := registry.LoadFile(filepath.Join(conformance.ModuleRoot(c.t), "configs", "registry.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	kv, err := bus.OpenRegistryKV(context.Background(), js, 1, nil)
	if err == nil {
		_, err = kv.Import(context.Background(), reg)
	}
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) startNATS() {
	c.t.Helper()
	c.nats = proctest.Start(c.t, "", proctest.Binary(c.t, "kuzet"), c.natsArgs)
	if !c.nats.WaitOutput(30*time.Second, "nats nats://") {
		c.t.Fatalf("kuzet nats did not start:\n%s", c.nats.Output())
	}
}

// role is a restartable kuzet role process.
type role struct {
	c      *cluster
	bin    string
	cfg    string
	ops    string
	proc   *proctest.Proc
	starts int
	// dir is the working directory ("": the test's).
	dir string
}

func (c *cluster) collector(id, oisc, extra string) (*role, string) {
	c.t.Helper()
	p := ports(c.t, 2)
	tcp := fmt.Sprintf("127.0.0.1:%d", p[1])
	cfg := writeFile(c.t, c.dir, id+".yaml", fmt.Sprintf(`
id: %s
oisc: %s
data_dir: %s
journal: true
nats: %s
http: {listen: "127.0.0.1:%d"}
%s
batch: {linger: 100ms, max_events: 200}
inputs:
  - {name: syslog-tcp, type: syslog_tcp, listen: %q, pipeline: syslog}
%s`, id, oisc, filepath.Join(c.dir, "collectors"), c.natsYAML(), p[0],
		c.registryLine(), tcp, extra))
	return &role{c: c, bin: proctest.Binary(c.t, "kuzet-collector"), cfg: cfg, ops: fmt.Sprintf("127.0.0.1:%d", p[0])}, tcp
}

// registryLine imports the registry at the collector's start, unless the
// test imported it at the hub (a site may not write it).
func (c *cluster) registryLine() string {
	if c.leafPort != 0 {
		return ""
	}
	return "registry_file: " + filepath.Join(conformance.ModuleRoot(c.t), "configs", "registry.yaml")
}

func (c *cluster) ncc(extra string) *role { return c.nccNamed("ncc-1", extra) }

// nccNamed is an ncc instance with id id (ids are unique among the
// instances of a partition group).
func (c *cluster) nccNamed(id, extra string) *role { return c.nccOn(id, c.ch, extra) }

// nccOn is an ncc instance with id id on ClickHouse ch.
func (c *cluster) nccOn(id string, ch config.ClickHouse, extra string) *role {
	c.t.Helper()
	p := ports(c.t, 1)
	cfg := writeFile(c.t, c.dir, id+".yaml", fmt.Sprintf(`
id: %s
nats: %s
clickhouse: %s
http: {listen: "127.0.0.1:%d"}
consumer: {ack_wait: 10s}
store: {linger: 200ms, max_backoff: 2s}
digests: {disabled: true} # 78 PDFs at each start; the schedule has its own tests
%s`, id, c.natsYAML(), clickhouseYAML(ch), p[0], extra))
	return &role{c: c, bin: proctest.Binary(c.t, "kuzet-ncc"), cfg: cfg, ops: fmt.Sprintf("127.0.0.1:%d", p[0])}
}

// clickhouseYAML is a role's clickhouse section for ch: its addresses in
// order (a cluster's replicas: the role fails over to the next), and its
// cluster.
func clickhouseYAML(ch config.ClickHouse) string {
	var addrs []string
	for _, a := range ch.Addr {
		addrs = append(addrs, strconv.Quote(a))
	}
	y := fmt.Sprintf("{addr: [%s], database: %s, dial_timeout: 2s, query_timeout: 10s", strings.Join(addrs, ", "), ch.Database)
	if ch.Cluster != "" {
		y += ", cluster: " + ch.Cluster
	}
	return y + "}"
}

// start starts the role with extra environment and waits until it is ready
// (ready=false: until it answers /healthz).
func (r *role) start(ready bool, env ...string) {
	r.c.t.Helper()
	r.proc = proctest.Start(r.c.t, r.dir, r.bin, []string{"-config", r.cfg}, env...)
	r.starts++
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	proctest.Eventually(r.c.t, 60*time.Second, func(ctx context.Context) error {
		select {
		case <-r.proc.Done():
			return fmt.Errorf("exited:\n%s", r.proc.Output())
		default:
		}
		code, err := httpStatus(ctx, "http://"+r.ops+path)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("%s: %d", path, code)
		}
		return nil
	})
}

func httpStatus(ctx context.Context, url string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// metrics is the role's /metrics page ("" when it does not answer).
func (r *role) metrics() string {
	resp, err := http.Get("http://" + r.ops + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

// metric reads one sample from the role's /metrics ("name{labels}").
func (r *role) metric(name string) float64 {
	page := r.metrics()
	if page == "" {
		return -1
	}
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, name+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, name+" "), &v)
			return v
		}
	}
	return 0
}

// feeder sends numbered RFC 5424 records over TCP at a steady rate,
// reconnecting when the collector is down.
type feeder struct {
	addr   string
	sent   atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

func startFeeder(addr string, rate int) *feeder {
	ctx, cancel := context.WithCancel(context.Background())
	f := &feeder{addr: addr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		var conn net.Conn
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; ; {
			select {
			case <-ctx.Done():
				if conn != nil {
					conn.Close()
				}
				return
			case <-tick.C:
			}
			if conn == nil {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				conn = c
			}
			msg := fmt.Sprintf("<38>1 %s cbs-db-01 sshd %d - - Failed password for user%d from 45.155.205.233 port 52114 ssh2",
				time.Now().UTC().Format(time.RFC3339Nano), n, n)
			if _, err := fmt.Fprintf(conn, "%d %s", len(msg), msg); err != nil {
				conn.Close()
				conn = nil
				continue
			}
			n++
			f.sent.Add(1)
		}
	}()
	return f
}

func (f *feeder) stop() int64 {
	f.cancel()
	<-f.done
	return f.sent.Load()
}

// settle waits until the journals list at least want accepted events (the
// last batch is journaled when it is sealed) and the store holds every
// accepted event, then returns the verification report.
func (c *cluster) settle(d time.Duration, want int64) verify.Report {
	c.t.Helper()
	var rep verify.Report
	proctest.Eventually(c.t, d, func(ctx context.Context) error {
		ids, collectors, err := verify.ReadJournals([]string{filepath.Join(c.dir, "collectors")})
		if err != nil {
			return err
		}
		rep, err = verify.Compare(ctx, c.st, ids, collectors)
		if err != nil {
			return err
		}
		if int64(rep.Accepted) < want {
			return fmt.Errorf("%d of %d sent events journaled as accepted", rep.Accepted, want)
		}
		if len(rep.Lost) > 0 {
			return fmt.Errorf("%d of %d accepted events not stored yet", len(rep.Lost), rep.Accepted)
		}
		return nil
	})
	return rep
}

var logMu sync.Mutex

// record logs a scenario's figures for the closing note.
func record(t *testing.T, scenario string, sent int64, rep verify.Report) {
	logMu.Lock()
	defer logMu.Unlock()
	line := fmt.Sprintf("%s: sent %d, accepted %d, stored %d, lost %d, duplicated %d",
		scenario, sent, rep.Accepted, rep.Stored, len(rep.Lost), len(rep.Duplicated))
	t.Log(line)
	if f := os.Getenv("KUZET_FAULT_REPORT"); f != "" {
		if fh, err := os.OpenFile(f, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintln(fh, line)
			fh.Close()
		}
	}
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// fileWriter appends numbered syslog lines to a file at a steady rate.
type fileWriter struct {
	written atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
}

func startFileWriter(path string, rate int) *fileWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &fileWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			fmt.Fprintf(f, "<38>%s cbs-db-01 sshd[%d]: Failed password for user%d from 45.155.205.233 port 52114 ssh2\n",
				time.Now().Format(time.Stamp), n, n)
			w.written.Add(1)
		}
	}()
	return w
}

func (w *fileWriter) stop() int64 {
	w.cancel()
	<-w.done
	return w.written.Load()
}
