package session

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"tt/picker"
)

// slowStore is storage whose every write takes delay: a disk far slower
// than the network.
type slowStore struct {
	Storage
	delay time.Duration
}

func (s slowStore) WriteBlock(piece int, begin int64, data []byte) error {
	time.Sleep(s.delay)
	return s.Storage.WriteBlock(piece, begin, data)
}

// watch samples a running session until it ends: the gaps between
// snapshots, how long a control call waits for the loop, and the live
// heap. Read its fields once done is closed.
type watch struct {
	statsGap   time.Duration
	snapshots  int
	controlMax time.Duration
	controls   int
	heapMax    uint64
	done       chan struct{}
}

func watchSession(t *testing.T, n *node) *watch {
	w := &watch{done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // snapshots
		defer wg.Done()
		last := time.Now()
		for {
			select {
			case <-n.s.Stats():
				now := time.Now()
				w.statsGap = max(w.statsGap, now.Sub(last))
				w.snapshots++
				last = now
			case <-n.done:
				return
			}
		}
	}()
	go func() { // the loop's latency and the heap
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-tick.C:
			case <-n.done:
				return
			}
			start := time.Now()
			if err := n.s.do(func() {}); err != nil {
				return
			}
			w.controlMax = max(w.controlMax, time.Since(start))
			w.controls++
			if i%4 == 0 {
				w.heapMax = max(w.heapMax, liveHeap())
			}
		}
	}()
	go func() { wg.Wait(); close(w.done) }()
	t.Cleanup(func() { <-w.done })
	return w
}

// liveHeap is the heap in use after a collection: what is reachable.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSlowDisk: a leecher whose disk takes 200 ms per write, fed by a
// seeder on loopback that could send far faster. The loop must keep
// running (snapshots every second, control calls answered at once), hold
// what waits for the disk near MaxDiskBacklog, finish, and still give up
// with the stall error when the data stops.
func TestSlowDisk(t *testing.T) {
	const (
		delay   = 200 * time.Millisecond
		backlog = 1 << 20
	)
	t.Run("completes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// Eight times the bound: a leecher that took in whatever arrived
		// would hold most of it in memory.
		const size, pieceLen = 8 << 20, 512 << 10
		tor, content := makeTorrent(t, size, pieceLen, nil)
		seedStore, mem := newMemStore(tor, content), newMemStore(tor, nil)
		heapBase := liveHeap()
		seed := startNode(t, ctx, Config{Torrent: tor, Store: seedStore, Have: allHave(tor.NumPieces()), Seed: true})
		leech := startNode(t, ctx, Config{Torrent: tor, Store: slowStore{mem, delay}, Peers: []netip.AddrPort{seed.addr}, MaxDiskBacklog: backlog})
		w := watchSession(t, leech)
		// A write takes at most maxWriteRun of one piece, and one more per
		// piece (the blocks queued when a write starts, then the rest) is
		// as slow as the disk goes with the bound above a piece.
		start := time.Now()
		writes := size/maxWriteRun + tor.NumPieces()
		leech.wait(t, time.Duration(writes)*delay+5*time.Second)
		took := time.Since(start)
		if leech.err != nil {
			t.Fatal(leech.err)
		}
		if !bytes.Equal(mem.bytes(), content) {
			t.Fatal("downloaded content differs")
		}
		peak := leech.s.disk.peak // Run has returned
		<-w.done
		t.Logf("took %s; backlog peak %d KiB (bound %d KiB); %d snapshots, largest gap %s; %d control calls, slowest %s; live heap %d → %d KiB",
			took, peak>>10, backlog>>10, w.snapshots, w.statsGap, w.controls, w.controlMax, heapBase>>10, w.heapMax>>10)
		// What was requested is counted against the bound before it
		// arrives: a request never takes it more than one block over.
		if peak > backlog+picker.BlockSize {
			t.Errorf("disk backlog reached %d bytes, bound %d", peak, backlog)
		}
		// The backlog (with the messages read and not yet handled: they
		// were requested, so within the bound), as many recycled blocks
		// again (a pool outlives one collection), the buffer a run of
		// blocks is joined in for one write, and 2 MiB for the rest.
		if w.heapMax > heapBase+2*backlog+maxWriteRun+2<<20 {
			t.Errorf("live heap grew from %d to %d KiB", heapBase>>10, w.heapMax>>10)
		}
		if w.statsGap > 1500*time.Millisecond {
			t.Errorf("snapshots %s apart while the disk was slow", w.statsGap)
		}
		if w.controlMax >= 2*delay {
			t.Errorf("a control call waited %s for the loop (a write takes %s)", w.controlMax, delay)
		}
	})
	t.Run("stalls", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// One block a piece, so that no two writes are joined: taking the
		// backlog from its bound down to half (when requests resume) lasts
		// 4 writes, longer than the stall timeout.
		const stall = 600 * time.Millisecond
		const size, backlog = 512 << 10, 128 << 10
		tor, content := makeTorrent(t, size, picker.BlockSize, nil)
		seedCtx, stopSeed := context.WithCancel(ctx)
		seed := startNode(t, seedCtx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
		leech := startNode(t, ctx, Config{Torrent: tor, Store: slowStore{newMemStore(tor, nil), delay}, Peers: []netip.AddrPort{seed.addr},
			MaxDiskBacklog: backlog, StallAfter: stall})
		// Run with the disk behind for longer than the stall timeout, so
		// that slow writes alone are seen not to count as a stall.
		start := time.Now()
		deadline := time.After(20 * time.Second)
		for time.Since(start) < 3*stall || len(leech.events(EvPieceVerified)) < 2 {
			select {
			case <-leech.done:
				t.Fatalf("the leecher ended before the seeder stopped: %v", leech.err)
			case <-deadline:
				t.Fatal("no pieces verified")
			case <-time.After(20 * time.Millisecond):
			}
		}
		stopSeed()
		<-seed.done
		stopped := time.Now()
		// What had arrived is written first (at most the backlog bound,
		// one block a write at worst), then the timeout runs.
		drain := time.Duration(backlog/picker.BlockSize) * delay
		leech.wait(t, drain+stall+5*time.Second)
		took := time.Since(stopped)
		if !errors.Is(leech.err, ErrStalled) {
			t.Fatalf("got %v, want ErrStalled", leech.err)
		}
		t.Logf("stalled %s after the seeder stopped, with %d of %d pieces", took, len(leech.events(EvPieceVerified)), tor.NumPieces())
		if took < stall-100*time.Millisecond {
			t.Fatalf("stalled %s after the seeder stopped, sooner than the timeout of %s", took, stall)
		}
	})
}
