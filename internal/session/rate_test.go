package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
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

// TestBucketPacesLargeWaits: a wait for more than the burst still
// passes, paced at the rate; a nil bucket never waits; a cancelled wait
// returns the context's error.
func TestBucketPacesLargeWaits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := (*bucket)(nil).wait(ctx, 1<<30); err != nil {
		t.Fatalf("nil bucket: %v", err)
	}
	if newBucket(0) != nil || newBucket(-1) != nil {
		t.Fatal("a zero or negative rate should mean no limit")
	}
	const rate = 1 << 20 // burst: 256 KiB
	b := newBucket(rate)
	start := time.Now()
	if err := b.wait(ctx, rate/4); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("the first burst waited %s", took)
	}
	start = time.Now()
	if err := b.wait(ctx, rate/2); err != nil { // twice the burst
		t.Fatal(err)
	}
	if took := time.Since(start); took < 400*time.Millisecond || took > 5*time.Second {
		t.Fatalf("512 KiB at 1 MiB/s with an empty bucket took %s, want about 500ms", took)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if err := b.wait(done, rate); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// BenchmarkBucketWait is the per-call cost on the hot path: every block
// sent or received calls wait once. The limited case is set far above
// what the calls ask for (32 TiB/s), so it measures the bookkeeping, not
// the pacing.
func BenchmarkBucketWait(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		rate int64
	}{{"unlimited", 0}, {"limited", 1 << 45}} {
		b.Run(c.name, func(b *testing.B) {
			bk := newBucket(c.rate)
			b.ReportAllocs()
			for b.Loop() {
				if err := bk.wait(ctx, 16<<10); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			bk := newBucket(c.rate)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bk.wait(ctx, 16<<10); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestTCPRTT: the kernel's round-trip estimate of a loopback connection
// is known on Linux (positive, well under a second) and is 0 once the
// connection is closed. The estimate paces requests as the rates here do.
func TestTCPRTT(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		io.Copy(c, c) // echo until the client closes
		accepted <- c
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := []byte("ping")
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	rtt := tcpRTT(c.(*net.TCPConn))
	if runtime.GOOS == "linux" && (rtt <= 0 || rtt > time.Second) {
		t.Fatalf("loopback RTT %s", rtt)
	}
	c.Close()
	if got := tcpRTT(c.(*net.TCPConn)); got != 0 {
		t.Fatalf("RTT of a closed connection: %s", got)
	}
	select {
	case s := <-accepted:
		if s != nil {
			s.Close()
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the echo side did not finish")
	}
}
