package session

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"tt/picker"
)

// waitStats waits for a snapshot that satisfies ok.
func waitStats(t *testing.T, n *node, d time.Duration, what string, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case st := <-n.s.Stats():
			if ok(st) {
				return st
			}
		case <-deadline:
			t.Fatalf("no snapshot with %s within %s", what, d)
		}
	}
}

func TestPauseResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 2<<20, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, UploadRate: 512 << 10})
	const stall = 2 * time.Second
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Detail: true, StallAfter: stall})
	waitStats(t, leech, 20*time.Second, "some progress", func(st Stats) bool { return st.Have > 0 })
	if err := leech.s.Pause(); err != nil {
		t.Fatal(err)
	}
	st := waitStats(t, leech, 5*time.Second, "paused and no peers", func(st Stats) bool { return st.State == StatePaused && len(st.Peers) == 0 })
	// Paused longer than the stall timeout: still running, nothing arrives.
	// The loop checks for a stall right after each snapshot it publishes,
	// so a control call answered after this one proves it did not fire.
	st2 := waitStats(t, leech, stall+5*time.Second, "the stall timeout passed while paused", func(st2 Stats) bool { return st2.Elapsed >= st.Elapsed+stall })
	have, paused := 0, false
	if err := leech.s.do(func() { have, paused = leech.s.pick.HaveCount(), leech.s.paused }); err != nil {
		<-leech.done
		t.Fatalf("the session ended while paused: %v", leech.err)
	}
	if st2.Have != st.Have || st2.State != StatePaused || have != st.Have || !paused {
		t.Fatalf("while paused: have %d → %d (%d), state %s", st.Have, st2.Have, have, st2.State)
	}
	if err := leech.s.Resume(); err != nil {
		t.Fatal(err)
	}
	leech.wait(t, 30*time.Second)
	if leech.err != nil || !bytes.Equal(leech.store.bytes(), content) {
		t.Fatalf("after resume: %v", leech.err)
	}
	if len(leech.events("paused")) != 1 || len(leech.events("resumed")) != 1 {
		t.Fatal("no paused/resumed events")
	}
}

func TestFilePriorityLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 1<<20, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	prios := make([]picker.Priority, len(tor.Info.Files))
	prios[0] = picker.Normal
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr},
		Priorities: prios, Detail: true, Seed: true})
	st := waitStats(t, leech, 20*time.Second, "first file complete", func(st Stats) bool { return st.Complete })
	if st.Files[0].Done != st.Files[0].Length || st.Files[3].Done == st.Files[3].Length {
		t.Fatalf("after the first file: %+v", st.Files)
	}
	if st.State != StateSeeding {
		t.Fatalf("state %q, want seeding", st.State)
	}
	last := len(tor.Info.Files) - 1
	if err := leech.s.SetFilePriority(last, picker.High); err != nil {
		t.Fatal(err)
	}
	st = waitStats(t, leech, 20*time.Second, "every file complete", func(st Stats) bool {
		return st.Complete && st.Files[last].Done == st.Files[last].Length
	})
	if !bytes.Equal(leech.store.bytes()[tor.Info.Files[last].Offset:], content[tor.Info.Files[last].Offset:]) {
		t.Fatal("last file differs")
	}
	if st.Files[last].Priority != picker.High {
		t.Fatalf("priority %d", st.Files[last].Priority)
	}
	if err := leech.s.SetFilePriority(99, picker.High); err == nil {
		t.Fatal("no error for a file that does not exist")
	}
	for _, ps := range st.PieceState {
		if ps != PieceHave {
			t.Fatalf("piece states %v", st.PieceState)
		}
	}
}

// BenchmarkSnapshotDetail is what a live view costs the engine each
// second: one detailed snapshot of a 4096-piece, 4-file torrent.
func BenchmarkSnapshotDetail(b *testing.B) {
	tor, _ := makeTorrent(b, 4096*16<<10, 16<<10, [][]string{{"http://127.0.0.1:1/announce"}})
	s, err := New(Config{Torrent: tor, Store: newMemStore(tor, nil), Detail: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < tor.NumPieces(); i += 2 {
		s.pick.PieceVerified(i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = s.snapshot()
	}
}
