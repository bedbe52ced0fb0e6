package chlocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ZooKeeperInstallHint is the command that installs Debian's ZooKeeper,
// the coordination service replicated ClickHouse 18.16 needs (the package
// has no ClickHouse Keeper).
const ZooKeeperInstallHint = "apt-get update -o DPkg::Lock::Timeout=600 && apt-get install -y -o DPkg::Lock::Timeout=600 zookeeper"

// ErrZooKeeperNotInstalled is returned when no ZooKeeper jar or no java is found.
var ErrZooKeeperNotInstalled = errors.New("zookeeper is not installed; as root run: " + ZooKeeperInstallHint)

// FindZooKeeper returns java and the ZooKeeper jar: $KUZET_ZOOKEEPER_JAR or
// Debian's /usr/share/java/zookeeper.jar (its manifest names the rest of
// the class path).
func FindZooKeeper() (java, jar string, err error) {
	jar = os.Getenv("KUZET_ZOOKEEPER_JAR")
	if jar == "" {
		jar = "/usr/share/java/zookeeper.jar"
	}
	if _, err := os.Stat(jar); err != nil {
		return "", "", ErrZooKeeperNotInstalled
	}
	java, err = exec.LookPath("java")
	if err != nil {
		return "", "", fmt.Errorf("%w (no java on PATH)", ErrZooKeeperNotInstalled)
	}
	return java, jar, nil
}

// ZooKeeper is a standalone ZooKeeper server run as a child process.
type ZooKeeper struct {
	dir      string
	port     int
	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
}

// StartZooKeeper starts a standalone ZooKeeper with its data under dir on
// a free loopback port and returns once it serves requests ("srvr" tells
// its mode; "ruok" answers before the server runs, and a ClickHouse 18.16
// that connects then may crash).
func StartZooKeeper(ctx context.Context, dir string) (*ZooKeeper, error) {
	java, jar, err := FindZooKeeper()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		return nil, err
	}
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{dir: dir, port: ports[0], done: make(chan struct{})}
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join([]string{
		"# Written by kuzet (internal/chlocal).",
		"tickTime=500",
		"dataDir=" + filepath.Join(dir, "data"),
		"clientPort=" + strconv.Itoa(z.port),
		"clientPortAddress=127.0.0.1",
		"maxClientCnxns=0",
		"admin.enableServer=false",
		"4lw.commands.whitelist=srvr",
		"",
	}, "\n")), 0o640); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	z.cmd = exec.Command(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", jar+":/usr/share/java/slf4j-simple.jar",
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	z.cmd.Dir, z.cmd.Stdout, z.cmd.Stderr = dir, out, out
	z.cmd.SysProcAttr = sysProcAttr()
	if err := z.cmd.Start(); err != nil {
		return nil, fmt.Errorf("chlocal: start zookeeper: %w", err)
	}
	go func() { _ = z.cmd.Wait(); close(z.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for !z.serving() {
		select {
		case <-z.done:
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			return nil, fmt.Errorf("chlocal: zookeeper exited during start: %s", tail(string(b), 2000))
		case <-ctx.Done():
			z.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			z.Stop()
			return nil, errors.New("chlocal: zookeeper did not answer within 60s")
		}
	}
	return z, nil
}

func (z *ZooKeeper) serving() bool {
	c, err := net.DialTimeout("tcp", z.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return strings.Contains(string(b), "Mode: standalone")
}

// Addr is the client address, host:port.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// Port is the client port.
func (z *ZooKeeper) Port() int { return z.port }

// Stop kills the server (its state is on disk; tests throw it away).
func (z *ZooKeeper) Stop() {
	z.stopOnce.Do(func() {
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
		_ = z.cmd.Process.Kill()
	})
	<-z.done
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
