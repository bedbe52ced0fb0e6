package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// authFailServer is a server without a store (whoami needs none) with one
// configured key, 3 failures allowed per minute, and trusted proxies.
func authFailServer(t *testing.T, now func() time.Time, proxies ...string) (*api.Server, *prometheus.Registry) {
	t.Helper()
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Keys = []config.APIKey{{Name: "ncc", Role: "ncc-analyst", Hash: access.HashKey("good-key-of-the-ncc")}}
	cfg.Limits.MaxAuthFailuresPerIP, cfg.Limits.AuthFailureWindow = 3, time.Minute
	cfg.TrustedProxies = proxies
	reg := prometheus.NewPedanticRegistry()
	srv, err := api.New(api.Options{Config: cfg, Registerer: reg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return srv, reg
}

// TestAuthFailuresPerAddress: after 3 failures within the window an
// address answers 429 with Retry-After, even with a good key, which is not
// checked; when the window has passed it is served again.
func TestAuthFailuresPerAddress(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	srv, reg := authFailServer(t, now)
	for i := range 3 {
		if code, _, _ := send(t, srv, http.MethodGet, "wrong-"+strconv.Itoa(i), "/api/v1/whoami", ""); code != 401 {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	unknown := authFailures(t, reg, "unknown")
	for _, key := range []string{"wrong-again", "good-key-of-the-ncc", ""} {
		code, b, hdr := send(t, srv, http.MethodGet, key, "/api/v1/whoami", "")
		ra, _ := strconv.Atoi(hdr.Get("Retry-After"))
		if code != 429 || ra < 59 || ra > 60 || !strings.Contains(string(b), api.CodeTooManyAuthFailures) {
			t.Fatalf("key %q after 3 failures: %d Retry-After %q %s", key, code, hdr.Get("Retry-After"), b)
		}
	}
	if got := authFailures(t, reg, "unknown"); got != unknown {
		t.Errorf("keys were checked while the address was blocked: unknown %v -> %v", unknown, got)
	}
	if got := gauge(t, reg, "kuzet_api_auth_blocked_total"); got != 3 {
		t.Errorf("blocked = %v, want 3", got)
	}
	// X-Forwarded-For from an untrusted peer changes nothing.
	if code, _, _ := send(t, srv, http.MethodGet, "good-key-of-the-ncc", "/api/v1/whoami", "", "X-Forwarded-For", "198.51.100.7"); code != 429 {
		t.Fatalf("forwarded-for from an untrusted peer: %d", code)
	}
	skew.Store(int64(30 * time.Second))
	if _, _, hdr := send(t, srv, http.MethodGet, "good-key-of-the-ncc", "/api/v1/whoami", ""); hdr.Get("Retry-After") != "30" {
		t.Errorf("Retry-After half-way: %q", hdr.Get("Retry-After"))
	}
	skew.Store(int64(61 * time.Second))
	if code, _, _ := send(t, srv, http.MethodGet, "good-key-of-the-ncc", "/api/v1/whoami", ""); code != 200 {
		t.Fatalf("after the window: %d", code)
	}
	// A new window: 2 failures, then a good key still passes.
	for range 2 {
		send(t, srv, http.MethodGet, "wrong", "/api/v1/whoami", "")
	}
	if code, _, _ := send(t, srv, http.MethodGet, "good-key-of-the-ncc", "/api/v1/whoami", ""); code != 200 {
		t.Fatalf("2 failures in a new window: %d", code)
	}
}

// TestAuthFailuresBehindProxy: behind a trusted proxy the client is the
// right-most untrusted address of X-Forwarded-For; an address forged to its
// left does not help; IPv6 hosts are counted by /64.
func TestAuthFailuresBehindProxy(t *testing.T) {
	// app.Test's peer is 0.0.0.0: the proxy.
	srv, _ := authFailServer(t, time.Now, "0.0.0.0/32", "10.0.0.0/8")
	get := func(key, xff string) int {
		code, _, _ := send(t, srv, http.MethodGet, key, "/api/v1/whoami", "", "X-Forwarded-For", xff)
		return code
	}
	for range 3 {
		if code := get("wrong", "203.0.113.9, 10.1.2.3"); code != 401 {
			t.Fatalf("failure: %d", code)
		}
	}
	for _, c := range []struct {
		xff  string
		want int
	}{
		{"203.0.113.9", 429},
		{"1.2.3.4, 203.0.113.9, 10.9.9.9", 429}, // a forged left entry
		{"198.51.100.7, 10.1.2.3", 200},         // another client behind the proxy
		{"203.0.113.9, 198.51.100.7", 200},      // 198.51.100.7 is the client
	} {
		if got := get("good-key-of-the-ncc", c.xff); got != c.want {
			t.Errorf("X-Forwarded-For %q: %d, want %d", c.xff, got, c.want)
		}
	}
	// The proxy's own address did not fail.
	if code, _, _ := send(t, srv, http.MethodGet, "good-key-of-the-ncc", "/api/v1/whoami", ""); code != 200 {
		t.Errorf("the proxy itself: %d", code)
	}
	for i := range 3 {
		get("wrong", "2001:db8:1:2::"+strconv.Itoa(i+1))
	}
	if code := get("good-key-of-the-ncc", "2001:db8:1:2:ffff::9"); code != 429 {
		t.Errorf("another address of the same /64: %d", code)
	}
	if code := get("good-key-of-the-ncc", "2001:db8:1:3::1"); code != 200 {
		t.Errorf("another /64: %d", code)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil || n != 1 {
		t.Fatalf("%s: %d series, %v", name, n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
