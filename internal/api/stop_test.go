package api_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// TestStopBoundedWithRequestInFlight: a client that sent half a request
// keeps its connection active; Stop returns within the api's own
// stop_timeout even when the caller's context never ends.
func TestStopBoundedWithRequestInFlight(t *testing.T) {
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RegistryFile = registryFile(t)
	cfg.StopTimeout = time.Second
	srv, err := api.New(api.Options{Config: cfg, Store: storetest.Open(t), Registerer: prometheus.NewPedanticRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server is reading the request
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- srv.Stop(context.Background()) }()
	select {
	case err := <-done:
		t.Logf("Stop after %v: %v", time.Since(began).Round(time.Millisecond), err)
		if took := time.Since(began); took > 3*time.Second {
			t.Errorf("Stop took %v with stop_timeout 1s", took)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Stop still running after 8s with stop_timeout 1s and a request in flight")
	}
}
