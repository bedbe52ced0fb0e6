package api

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// TestFailTrackerBounded: the tracker keeps at most its limit of
// addresses, forgetting the least recently failed first, and drops a
// window once it has passed.
func TestFailTrackerBounded(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	ft := newFailTracker(2, time.Minute, func() time.Time { return now })
	ft.limit = 4
	addr := func(i int) netip.Prefix { return addrKey(netip.MustParseAddr("192.0.2." + strconv.Itoa(i))) }
	for i := range 100 {
		ft.fail(addr(i))
		ft.fail(addr(i))
	}
	if n := ft.tracked(); n != 4 {
		t.Fatalf("tracked %d addresses, want 4", n)
	}
	if b, _ := ft.blocked(addr(99)); !b {
		t.Error("the last address is not blocked")
	}
	if b, _ := ft.blocked(addr(0)); b {
		t.Error("the first address was not forgotten")
	}
	now = now.Add(time.Minute)
	if b, _ := ft.blocked(addr(99)); b {
		t.Error("still blocked after the window")
	}
	if n := ft.tracked(); n != 3 {
		t.Errorf("tracked %d after one window expired, want 3", n)
	}
}

func TestForwardedFor(t *testing.T) {
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	proxy := netip.MustParseAddr("10.0.0.1")
	for _, c := range []struct {
		peer    netip.Addr
		headers []string
		want    string
	}{
		{netip.MustParseAddr("203.0.113.1"), []string{"198.51.100.1"}, "203.0.113.1"}, // untrusted peer
		{proxy, nil, "10.0.0.1"},
		{proxy, []string{"198.51.100.1"}, "198.51.100.1"},
		{proxy, []string{"6.6.6.6, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{proxy, []string{"6.6.6.6", "198.51.100.1, 10.2.2.2"}, "198.51.100.1"}, // two headers
		{proxy, []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},                    // all trusted: the left-most
		{proxy, []string{"garbage, 10.2.2.2"}, "10.2.2.2"},                     // the last trusted hop
		{proxy, []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{proxy, []string{"2001:db8::1, fd00::1"}, "2001:db8::1"},
	} {
		hs := make([][]byte, len(c.headers))
		for i, h := range c.headers {
			hs[i] = []byte(h)
		}
		if got := s.forwardedFor(c.peer, hs); got.String() != c.want {
			t.Errorf("%s %q: %s, want %s", c.peer, c.headers, got, c.want)
		}
	}
}
