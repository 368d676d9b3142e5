package dht

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// answers counts the datagrams a Server sends, per destination IP.
type answers struct {
	mu   sync.Mutex
	byIP map[netip.Addr]int
}

func (a *answers) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byIP == nil {
		a.byIP = make(map[netip.Addr]int)
	}
	a.byIP[to.Addr().Unmap()]++
	return len(b), nil
}

func (a *answers) to(ip netip.Addr) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byIP[ip]
}

// roPing is a ping from a read-only node (BEP 43), which the server does
// not ping back to verify.
var roPing = []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe")

// newFrozenServer is a Server whose clock stands still unless the test
// moves it, so a rate limit lets exactly its burst through.
func newFrozenServer(t *testing.T, cfg Config) (*Server, *answers, *time.Time) {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	w := &answers{}
	s := New(w, cfg)
	t.Cleanup(s.Close)
	return s, w, &now
}

// TestQueryFloodRotatingPortsLimited: 2,000 queries from one IP, each
// from another source port and some spelled as IPv4-mapped IPv6, share one
// budget: only the burst is answered, and another IP is still answered.
func TestQueryFloodRotatingPortsLimited(t *testing.T) {
	s, w, _ := newFrozenServer(t, Config{QueryRate: 20})
	flood := netip.MustParseAddr("192.0.2.1")
	mapped := netip.AddrFrom16(flood.As16())
	for i := range 2000 {
		ip := flood
		if i%2 == 1 {
			ip = mapped
		}
		s.HandlePacket(netip.AddrPortFrom(ip, uint16(10000+i)), roPing)
	}
	if got, burst := w.to(flood), 40; got != burst {
		t.Fatalf("flood over 2000 ports: %d answered, want the burst of %d", got, burst)
	}
	if got := s.Stats().Dropped; got != 2000-40 {
		t.Fatalf("dropped %d, want %d", got, 2000-40)
	}
	other := netip.MustParseAddr("198.51.100.7")
	s.HandlePacket(netip.AddrPortFrom(other, 6881), roPing)
	if w.to(other) != 1 {
		t.Fatal("a query from another IP was not answered during the flood")
	}
}

// TestQueryLoopbackNotLimited: a local swarm puts every node on one
// loopback address, so loopback is exempt unless LimitLoopback is set.
func TestQueryLoopbackNotLimited(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, limit := range []bool{false, true} {
		s, w, _ := newFrozenServer(t, Config{QueryRate: 20, LimitLoopback: limit})
		for i := range 200 {
			s.HandlePacket(netip.AddrPortFrom(lo, uint16(20000+i)), roPing)
		}
		want := 200
		if limit {
			want = 40
		}
		if got := w.to(lo); got != want {
			t.Fatalf("LimitLoopback %v: %d of 200 loopback queries answered, want %d", limit, got, want)
		}
	}
}

// TestQuerySourcesBounded: 50,000 distinct source IPs never grow the
// table past its bound, and a flooder that keeps sending among them stays
// limited: eviction takes the least recently seen, never everyone.
func TestQuerySourcesBounded(t *testing.T) {
	const bound = 1000
	s, w, now := newFrozenServer(t, Config{QueryRate: 20, MaxQuerySources: bound})
	flood := netip.MustParseAddrPort("192.0.2.1:6881")
	for range 100 {
		s.HandlePacket(flood, roPing)
	}
	peak := 0
	for i := range 50000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.HandlePacket(netip.AddrPortFrom(ip, 6881), roPing)
		if i%10 == 0 {
			s.HandlePacket(flood, roPing)
		}
		peak = max(peak, s.limits.len())
	}
	if peak > bound {
		t.Fatalf("%d sources tracked, bound %d", peak, bound)
	}
	if got := w.to(flood.Addr()); got != 40 {
		t.Fatalf("flooder answered %d times among 50000 other sources, want its burst of 40", got)
	}
	// Once every budget has refilled, pruning forgets them all; a source
	// still short of its burst is kept.
	*now = now.Add(3 * time.Second)
	s.HandlePacket(flood, roPing)
	s.mu.Lock()
	s.limits.prune(*now)
	n := s.limits.len()
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d sources after pruning refilled ones, want 1 (the one that just sent)", n)
	}
}
