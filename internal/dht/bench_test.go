package dht

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

type discard struct{}

func (discard) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }

// BenchmarkMemory10k offers a node 10,000 distinct answering nodes and
// 10,000 announced peers (100 infohashes × 100 peers) and reports the heap
// the node holds afterwards (heap_MiB, after a GC, less the heap before it
// was made), how many nodes its routing table kept (BEP 5 buckets of 8),
// and the process's peak RSS. Run by scripts/bench-dht.
func BenchmarkMemory10k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var kept int
	var heap float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New(discard{}, Config{})
		now := time.Now()
		s.mu.Lock()
		for i := range 10000 {
			addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
			s.tab.seen(NodeInfo{randID(r), addr}, now)
		}
		for h := range 100 {
			ih := randID(r)
			for p := range 100 {
				s.st.add(ih, netip.AddrPortFrom(netip.AddrFrom4([4]byte{11, byte(h), byte(p), 1}), uint16(1000+p)), now)
			}
		}
		s.mu.Unlock()
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = s.Stats().Nodes
		if s.Stats().Peers != 10000 {
			b.Fatalf("%d peers stored", s.Stats().Peers)
		}
		heap = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(s)
	}
	b.ReportMetric(heap, "heap_MiB")
	b.ReportMetric(float64(kept), "nodes_kept")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak_rss_MiB")
}

// BenchmarkAllow is the cost of the per-source rate limit for one query,
// from one source and from 50,000 sources in turn (past the bound of the
// table of sources, so entries are evicted).
func BenchmarkAllow(b *testing.B) {
	for _, n := range []int{1, 50000} {
		b.Run(fmt.Sprint(n, "-sources"), func(b *testing.B) {
			s := New(discard{}, Config{})
			addrs := make([]netip.AddrPort, n)
			for i := range addrs {
				addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
			}
			now := time.Now()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				now = now.Add(time.Microsecond)
				s.mu.Lock()
				s.allow(addrs[i%n], now)
				s.mu.Unlock()
				i++
			}
		})
		b.Run(fmt.Sprint(n, "-sources-ping"), func(b *testing.B) {
			s := New(discard{}, Config{ID: ID{1}})
			ping := []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
			addrs := make([]netip.AddrPort, n)
			for i := range addrs {
				addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.HandlePacket(addrs[i%n], ping)
				i++
			}
		})
	}
}
