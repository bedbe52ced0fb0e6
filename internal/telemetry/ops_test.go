package telemetry_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// TestOpsPProf checks that the ops listener serves net/http/pprof only
// when http.pprof is set.
func TestOpsPProf(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := config.HTTP{Listen: "127.0.0.1:0", PProf: on}
		s, err := telemetry.StartOps(cfg.Listen, prometheus.NewPedanticRegistry(), telemetry.NewReadiness(), telemetry.OpsMux(cfg), nil)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"/debug/pprof/": 404, "/debug/pprof/heap": 404, "/healthz": 200} {
			if on && path != "/healthz" {
				want = 200
			}
			resp, err := http.Get("http://" + s.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("pprof %v: GET %s: %d, want %d", on, path, resp.StatusCode, want)
			}
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
