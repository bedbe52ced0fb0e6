package ncc_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// cutProxy forwards TCP connections on a loopback port to target until
// cut, which closes them and refuses every later one (a ClickHouse outage).
type cutProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	cutOff bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cutOff {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutOff = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestStopBoundedWhileClickHouseDown: with messages held and ClickHouse
// gone, Stop returns within the ncc's own stop_timeout even when the
// caller's context never ends; the messages stay unacked (redelivered).
func TestStopBoundedWhileClickHouseDown(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	proxy := newCutProxy(t, cfg.ClickHouse.Addr[0])
	cfg.ClickHouse.Addr = []string{proxy.addr()}
	cfg.ClickHouse.DialTimeout = 300 * time.Millisecond
	cfg.Store.MaxBackoff = 200 * time.Millisecond
	cfg.Store.Linger = 50 * time.Millisecond
	cfg.StopTimeout = time.Second
	cfg.Rules.Disabled = true
	reg := prometheus.NewPedanticRegistry()
	n := start(t, cfg, reg)
	f.publish(t, 1, 1, 5)
	waitUntil(t, 20*time.Second, func() bool { return testutil.ToFloat64(gauge(reg, "kuzet_ncc_batches_acked_total")) == 1 })

	proxy.cut()
	f.publish(t, 2, 2, 5)
	waitUntil(t, 20*time.Second, func() bool { return testutil.ToFloat64(gauge(reg, "kuzet_ncc_store_up")) == 0 })

	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- n.Stop(context.Background()) }()
	select {
	case err := <-done:
		if took := time.Since(began); took > 3*time.Second {
			t.Errorf("Stop took %v with stop_timeout 1s", took)
		}
		if err == nil {
			t.Error("Stop reported no error with messages left unflushed")
		}
		t.Logf("Stop after %v: %v", time.Since(began).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("Stop still running after 10s with stop_timeout 1s (ClickHouse down, caller's context never ends)")
	}
	if got := testutil.ToFloat64(gauge(reg, "kuzet_ncc_batches_acked_total")); got != 1 {
		t.Errorf("acked %v batches; want only the first (stored before the outage)", got)
	}
}

// waitUntil polls cond every 20ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
