package api

import (
	"container/list"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// CodeTooManyAuthFailures: the caller's address failed to authenticate
// limits.max_auth_failures_per_ip times within limits.auth_failure_window;
// it answers 429 with Retry-After, no credential checked, until the window
// passes.
const CodeTooManyAuthFailures = "too_many_auth_failures"

// maxTrackedAddrs bounds the addresses failTracker remembers (about 100
// bytes each): past it, the address that failed least recently is
// forgotten first.
const maxTrackedAddrs = 1 << 16

// failTracker counts failed authentications per address (an IPv4 address,
// an IPv6 /64: one host usually holds a whole /64) in fixed windows that
// start at an address's first failure. Memory is bounded by maxTrackedAddrs
// (least recently failed evicted first; expired windows are dropped when
// met). Safe for concurrent use.
type failTracker struct {
	max    int
	window time.Duration
	now    func() time.Time
	limit  int // addresses kept (maxTrackedAddrs; tests lower it)

	mu     sync.Mutex
	byAddr map[netip.Prefix]*list.Element
	lru    *list.List // of *failWindow, most recent failure first
}

type failWindow struct {
	addr  netip.Prefix
	start time.Time
	n     int
}

func newFailTracker(max int, window time.Duration, now func() time.Time) *failTracker {
	return &failTracker{max: max, window: window, now: now, limit: maxTrackedAddrs,
		byAddr: map[netip.Prefix]*list.Element{}, lru: list.New()}
}

// addrKey is the prefix failures are counted by: the address, or its /64
// for IPv6. The zero Prefix (no address known) is a key too.
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, 32)
}

// blocked reports whether addr has used up its failures in the current
// window, and how long until the window passes.
func (t *failTracker) blocked(addr netip.Prefix) (bool, time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byAddr[addr]
	if !ok {
		return false, 0
	}
	w := e.Value.(*failWindow)
	end := w.start.Add(t.window)
	if !now.Before(end) || now.Before(w.start) {
		t.lru.Remove(e)
		delete(t.byAddr, addr)
		return false, 0
	}
	if w.n < t.max {
		return false, 0
	}
	return true, end.Sub(now)
}

// fail counts a failed authentication of addr.
func (t *failTracker) fail(addr netip.Prefix) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byAddr[addr]; ok {
		w := e.Value.(*failWindow)
		if now.Before(w.start) || !now.Before(w.start.Add(t.window)) {
			w.start, w.n = now, 0
		}
		w.n++
		t.lru.MoveToFront(e)
		return
	}
	for t.lru.Len() >= t.limit {
		old := t.lru.Back()
		t.lru.Remove(old)
		delete(t.byAddr, old.Value.(*failWindow).addr)
	}
	t.byAddr[addr] = t.lru.PushFront(&failWindow{addr: addr, start: now, n: 1})
}

// tracked returns the number of addresses remembered.
func (t *failTracker) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

const clientAddrKey = "kuzet.client_addr"

// clientAddr is the caller's address: the peer's, or, when the peer is a
// trusted proxy, the right-most address of X-Forwarded-For that is not a
// trusted proxy (each proxy appends the address it got the request from,
// so entries left of it may be forged). An entry that does not parse ends
// the walk at the last trusted hop. Computed once per request.
func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	if a, ok := c.Locals(clientAddrKey).(netip.Addr); ok {
		return a
	}
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	a := s.forwardedFor(peer.Unmap(), c.Request().Header.PeekAll(fiber.HeaderXForwardedFor))
	c.Locals(clientAddrKey, a)
	return a
}

func (s *Server) forwardedFor(peer netip.Addr, headers [][]byte) netip.Addr {
	if !s.trusted(peer) {
		return peer
	}
	client := peer
	for i := len(headers) - 1; i >= 0; i-- {
		hops := strings.Split(string(headers[i]), ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !s.trusted(client) {
				return client
			}
		}
	}
	return client
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the caller's address as the audit log records it.
func (s *Server) clientIP(c *fiber.Ctx) string {
	if a := s.clientAddr(c); a.IsValid() {
		return a.String()
	}
	return c.IP()
}

// refuseFailingAddr answers 429 when the caller's address has failed too
// often; nil lets the request be authenticated.
func (s *Server) refuseFailingAddr(c *fiber.Ctx, key netip.Prefix) error {
	ok, wait := s.fails.blocked(key)
	if !ok {
		return nil
	}
	s.m.authBlocked.Inc()
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	return &Error{Status: fiber.StatusTooManyRequests, Code: CodeTooManyAuthFailures,
		Message: "too many failed authentications from this address; retry after the Retry-After seconds"}
}
