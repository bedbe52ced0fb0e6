package collector_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// TestStopBoundedByStopTimeout: with NATS gone, a publisher retries its
// batch for ever; Stop with a context that never ends still returns
// within the collector's own stop_timeout (plus the cleanup grace), says
// what it could not publish, and leaves the batch in the spool.
func TestStopBoundedByStopTimeout(t *testing.T) {
	f := newFixture(t, func(cfg *config.Collector) {
		cfg.Batch.Linger = 20 * time.Millisecond
		cfg.StopTimeout = 300 * time.Millisecond
	})
	c := f.c
	f.srv.Shutdown()
	ops := c.OpsAddr()
	conn, err := net.Dial("tcp", c.InputAddr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("web-01|held while NATS is down\n")); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	for deadline := time.Now().Add(5 * time.Second); metricSum(scrape(t, ops), "kuzet_collector_batches_in_flight") < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the batch never reached a publisher")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	start := time.Now()
	go func() { stopped <- c.Stop(context.Background()) }()
	select {
	case err = <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop(context.Background()) did not return within 5s; stop_timeout is 300ms")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %s, stop_timeout is 300ms", d)
	}
	if err == nil || !strings.Contains(err.Error(), "unpublished") {
		t.Errorf("Stop error = %v, want it to name the unpublished batches", err)
	}
}

// TestOptions: the role's defaults and validation live beside it; an
// error names what is wrong.
func TestOptions(t *testing.T) {
	o := collector.DefaultOptions()
	o.Config.ID, o.Config.OISC = "c1", "oisc-almaty"
	o.Config.Inputs = []config.Input{{Name: "udp", Type: config.InputUDP, Listen: "127.0.0.1:0", Pipeline: "test"}}
	if _, err := collector.New(o); err == nil || !strings.Contains(err.Error(), "Options.Streams") {
		t.Errorf("New without Streams: %v", err)
	}
	o.Streams = streams
	if _, err := collector.New(o); err != nil {
		t.Errorf("New with DefaultOptions: %v", err)
	}
	o.Config.StopTimeout = 0
	if _, err := collector.New(o); err == nil || !strings.Contains(err.Error(), "stop_timeout") {
		t.Errorf("New with stop_timeout 0: %v", err)
	}
}
