// Package proctest runs kuzet's real programs as separate OS processes in
// tests: it builds them once per test binary, starts them with their output
// captured, and stops them (SIGTERM, or SIGKILL for fault injection). Every
// process is killed when its test ends, and by the kernel if the test binary
// dies.
package proctest

import (
	"bytes"
	"context"

	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// Binary builds ./cmd/<name> (once per test binary) and returns its path.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "kuzet-proctest-")
		if err != nil {
			tb.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = conformance.ModuleRoot(tb)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/%s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// Proc is a running program.
type Proc struct {
	tb   testing.TB
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin with args and extra environment, in dir (the module root
// when empty). Its combined output is kept (Output) and shown when the test
// fails.
func Start(tb testing.TB, dir, bin string, args []string, env ...string) *Proc {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = conformance.ModuleRoot(tb)
	}
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{tb: tb, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("output of %s %v:\n%s", filepath.Base(bin), args, p.Output())
		}
	})
	return p
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output returns what the program printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the program has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the program.
func (p *Proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL to the program and its process group and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Wait waits up to d for the program to exit and returns its exit code, or
// fails the test.
func (p *Proc) Wait(d time.Duration) int {
	p.tb.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.tb.Fatalf("%s did not exit within %s", p.cmd.Path, d)
	}
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// WaitOutput waits up to d until the output contains s.
func (p *Proc) WaitOutput(d time.Duration, s string) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if bytes.Contains([]byte(p.Output()), []byte(s)) {
			return true
		}
		select {
		case <-p.done:
			return bytes.Contains([]byte(p.Output()), []byte(s))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// Eventually polls cond every 100 ms until it returns nil or d passes, then
// fails the test with cond's last error.
func Eventually(tb testing.TB, d time.Duration, cond func(ctx context.Context) error) {
	tb.Helper()
	deadline := time.Now().Add(d)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last = cond(ctx)
		cancel()
		if last == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %s: %v", d, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
