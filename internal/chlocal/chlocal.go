// Package chlocal runs a private ClickHouse server as a child process: for
// `kuzet run`, for `make test` and for tests that need a server of their own
// to stop and start. It writes its own configuration (loopback, free ports,
// data under a work directory), so it works with Debian's clickhouse-server
// package, which starts no service by itself, as with current releases.
//
// On Linux the child gets SIGKILL when the parent dies, so no server outlives
// a crashed parent.
package chlocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// InstallHint is the command that installs the server on Debian.
const InstallHint = "apt-get update -o DPkg::Lock::Timeout=600 && apt-get install -y -o DPkg::Lock::Timeout=600 clickhouse-server clickhouse-client"

// EnvTestAddr names the environment variable that holds the native address
// of the ClickHouse server tests use (set by `kuzet clickhouse -- go test`).
const EnvTestAddr = "KUZET_TEST_CLICKHOUSE"

// ErrNotInstalled is returned by Find when no server binary exists.
var ErrNotInstalled = errors.New("clickhouse-server is not installed; as root run: " + InstallHint)

// Find returns the path of the server binary: $KUZET_CLICKHOUSE_BINARY, then
// clickhouse-server or clickhouse on $PATH, then /usr/sbin/clickhouse-server.
func Find() (string, error) {
	if p := os.Getenv("KUZET_CLICKHOUSE_BINARY"); p != "" {
		return p, nil
	}
	for _, name := range []string{"clickhouse-server", "clickhouse"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Options configure a server.
type Options struct {
	// Binary is the server binary; empty means Find.
	Binary string
	// Dir holds the configuration, data and logs. Required. A server started
	// again on the same Dir keeps its data.
	Dir string
	// TCPPort and HTTPPort are the native and HTTP ports; 0 picks free ones.
	TCPPort, HTTPPort int
	// InterserverPort is the replication (interserver HTTP) port, served
	// only when Extra configures replication; 0 picks a free one.
	InterserverPort int
	// Extra is configuration XML inserted into the server's <yandex>
	// element: a cluster, ZooKeeper and macros (ReplicaConfig).
	Extra string
	// StartTimeout bounds the wait for the server to answer; default 60s.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Server is a running ClickHouse child process.
type Server struct {
	opts     Options
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// Start writes the configuration and starts the server, and returns once it
// answers on its HTTP /ping, or with the tail of its error log if it exits.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("chlocal: Dir is required")
	}
	if opts.Binary == "" {
		b, err := Find()
		if err != nil {
			return nil, err
		}
		opts.Binary = b
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		o := opts
		if o.TCPPort == 0 || o.HTTPPort == 0 || o.InterserverPort == 0 {
			ports, err := FreePorts(3)
			if err != nil {
				return nil, err
			}
			if o.TCPPort == 0 {
				o.TCPPort = ports[0]
			}
			if o.HTTPPort == 0 {
				o.HTTPPort = ports[1]
			}
			if o.InterserverPort == 0 {
				o.InterserverPort = ports[2]
			}
		}
		s, err := start(ctx, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if opts.TCPPort != 0 && opts.HTTPPort != 0 && opts.InterserverPort != 0 {
			break // fixed ports: retrying cannot help
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, o Options) (*Server, error) {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o750); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(o.Dir, "config.xml")
	if err := os.WriteFile(cfg, []byte(configXML(o)), 0o640); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "users.xml"), []byte(usersXML), 0o640); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(o.Dir, "data", "status")) // a stale lock of a killed server
	args := []string{"--config-file=" + cfg}
	if filepath.Base(o.Binary) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	cmd := exec.Command(o.Binary, args...)
	cmd.Dir = o.Dir
	out, err := os.OpenFile(filepath.Join(o.Dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chlocal: start %s: %w", o.Binary, err)
	}
	s := &Server{opts: o, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	o.Logger.Info("clickhouse starting", "binary", o.Binary, "native", s.Addr(), "dir", o.Dir, "pid", cmd.Process.Pid)
	deadline := time.NewTimer(o.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("chlocal: clickhouse-server exited during start (%v): %s", s.waitErr, s.logTail())
		case <-ctx.Done():
			s.Kill()
			return nil, ctx.Err()
		case <-deadline.C:
			s.Kill()
			return nil, fmt.Errorf("chlocal: clickhouse-server did not answer within %s: %s", o.StartTimeout, s.logTail())
		case <-tick.C:
			if s.ping() {
				return s, nil
			}
		}
	}
}

func (s *Server) ping() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + s.HTTPAddr() + "/ping")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false
	}
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// logTail returns the end of the server's error log, for start failures.
func (s *Server) logTail() string {
	for _, f := range []string{"log/clickhouse-server.err.log", "log/stdout.log"} {
		data, err := os.ReadFile(filepath.Join(s.opts.Dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		return string(data)
	}
	return "(no log)"
}

// Addr is the native protocol address, host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.TCPPort)) }

// HTTPAddr is the HTTP interface address, host:port.
func (s *Server) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.HTTPPort))
}

// Options returns the options the server runs with, its ports fixed:
// Start(ctx, s.Options()) starts it again on its data and ports.
func (s *Server) Options() Options { return s.opts }

// Dir is the server's work directory.
func (s *Server) Dir() string { return s.opts.Dir }

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop asks the server to stop (SIGTERM) and kills it if it has not exited
// when ctx ends or after 30 s. It is idempotent and safe to call
// concurrently.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case <-s.done:
		case <-ctx.Done():
		case <-t.C:
		}
		s.Kill()
	})
	<-s.done
	return nil
}

// Kill stops the server with SIGKILL (also its process group) and waits for it.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Process.Kill()
	<-s.done
}

// FreePorts returns n distinct free loopback TCP ports, drawn at random
// below the kernel's ephemeral range (where outgoing connections, which
// parallel tests make by the thousand, would take them) when the range
// allows, else from it. Another process may still take one before it is
// used; callers retry on bind failures.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	low := ephemeralLow()
	var ports []int
	for tries := 0; len(ports) < n && tries < 1000; tries++ {
		addr := "127.0.0.1:0"
		if low > 10000 {
			addr = "127.0.0.1:" + strconv.Itoa(10000+mrand.IntN(low-10000))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("chlocal: %d free ports not found", n)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (0 if
// unknown).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 1 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func configXML(o Options) string {
	d := o.Dir
	return `<?xml version="1.0"?>
<!-- Written by kuzet (internal/chlocal); rewritten at every start. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>` + d + `/log/clickhouse-server.log</log>
    <errorlog>` + d + `/log/clickhouse-server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>` + strconv.Itoa(o.TCPPort) + `</tcp_port>
  <http_port>` + strconv.Itoa(o.HTTPPort) + `</http_port>
  <interserver_http_port>` + strconv.Itoa(o.InterserverPort) + `</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>` + d + `/data/</path>
  <tmp_path>` + d + `/tmp/</tmp_path>
  <user_files_path>` + d + `/user_files/</user_files_path>
  <format_schema_path>` + d + `/format_schemas/</format_schema_path>
  <users_config>` + d + `/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
` + o.Extra + `
</yandex>
`
}

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`
