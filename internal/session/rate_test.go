package session

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestRateLimits: an upload limit on the seeder and a download limit on
// the leecher each hold a transfer to about its rate (allowing the
// bucket's quarter-second burst), and an unlimited one is much faster.
func TestRateLimits(t *testing.T) {
	const size = 2 << 20
	const rate = 1 << 20
	for _, c := range []struct {
		name     string
		up, down int64
	}{{"upload", rate, 0}, {"download", 0, rate}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tor, content := makeTorrent(t, size, 16<<10, nil)
			seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, UploadRate: c.up})
			start := time.Now()
			leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, DownRate: c.down})
			leech.wait(t, 20*time.Second)
			took := time.Since(start)
			if leech.err != nil || !bytes.Equal(leech.store.bytes(), content) {
				t.Fatalf("download: %v", leech.err)
			}
			// 2 MiB at 1 MiB/s with a 256 KiB burst: at least ~1.75 s.
			if min := time.Duration(float64(size-rate/4) / rate * 0.9 * float64(time.Second)); took < min {
				t.Fatalf("took %s, faster than the %d B/s limit allows (%s)", took, rate, min)
			}
			if took > 6*time.Second {
				t.Fatalf("took %s, much slower than the limit", took)
			}
			t.Logf("2 MiB at a %s limit of 1 MiB/s: %s", c.name, took.Round(10*time.Millisecond))
		})
	}
}
