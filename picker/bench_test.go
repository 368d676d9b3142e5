package picker

import (
	"math/rand/v2"
	"testing"
)

const (
	benchPieces = 100_000
	benchPeers  = 50
	benchPieceL = 256 * kib // 16 blocks
)

// benchSwarm builds a 100,000-piece torrent with 50 peers: 5 seeds and 45
// peers holding each piece with probability 0.2..0.9.
func benchSwarm(b *testing.B, mod func(*Config)) (*Picker, *rand.Rand) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	cfg := Config{PieceLength: benchPieceL, TotalLength: benchPieceL * benchPieces, RandomFirst: -1, Rand: rand.New(rand.NewPCG(2, 2))}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for id := range PeerID(benchPeers) {
		if id < 5 {
			p.PeerHasAll(id)
			continue
		}
		d := 0.2 + 0.7*r.Float64()
		bf := NewBitfield(benchPieces)
		for i := range benchPieces {
			if r.Float64() < d {
				bf.Set(i)
			}
		}
		if err := p.PeerBitfield(id, bf); err != nil {
			b.Fatal(err)
		}
	}
	return p, r
}

// runArrivals measures one block arrival: Received, PieceVerified when a
// piece completes, and Next(peer, 1) to refill that peer's pipeline of 16.
// When the torrent completes, a new swarm is built with the timer stopped.
func runArrivals(b *testing.B, build func() *Picker) {
	type req struct {
		peer PeerID
		blk  Block
	}
	var (
		p     *Picker
		queue []req
		head  int
	)
	fill := func() {
		p = build()
		queue, head = queue[:0], 0
		for id := range PeerID(benchPeers) {
			for _, blk := range p.Next(id, 16) {
				queue = append(queue, req{id, blk})
			}
		}
	}
	fill()
	buf := make([]Block, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if head == len(queue) {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		if head > 4096 {
			queue = append(queue[:0], queue[head:]...)
			head = 0
		}
		q := queue[head]
		head++
		if _, a := p.Received(q.peer, q.blk); a == PieceReady {
			p.PieceVerified(q.blk.Piece)
		}
		buf = p.AppendNext(buf[:0], q.peer, 1)
		for _, blk := range buf {
			queue = append(queue, req{q.peer, blk})
		}
	}
}

func BenchmarkArrivalRarest(b *testing.B) {
	runArrivals(b, func() *Picker { p, _ := benchSwarm(b, nil); return p })
}

func BenchmarkArrivalRandomFirst(b *testing.B) {
	runArrivals(b, func() *Picker {
		p, _ := benchSwarm(b, func(c *Config) { c.RandomFirst = 1 << 30 })
		return p
	})
}

func BenchmarkArrivalSequential(b *testing.B) {
	runArrivals(b, func() *Picker {
		p, _ := benchSwarm(b, nil)
		p.SetSequential(true)
		return p
	})
}

// A peer holding 1% of the pieces asks for a fresh piece: the walk from the
// rarest end gives up and the word-wise intersection answers.
func BenchmarkNextSparsePeer(b *testing.B) {
	p, r := benchSwarm(b, nil)
	bf := NewBitfield(benchPieces)
	for range benchPieces / 100 {
		bf.Set(r.IntN(benchPieces))
	}
	if err := p.PeerBitfield(999, bf); err != nil {
		b.Fatal(err)
	}
	buf := make([]Block, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		buf = p.AppendNext(buf[:0], 999, 16)
		if len(buf) == 0 {
			b.Fatal("nothing picked")
		}
		p.CancelAll(999)
	}
}

func BenchmarkPeerHas(b *testing.B) {
	p, r := benchSwarm(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := PeerID(1000 + i%200)
		if err := p.PeerHas(id, r.IntN(benchPieces)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeerBitfieldHalf(b *testing.B) {
	p, r := benchSwarm(b, nil)
	bf := NewBitfield(benchPieces)
	for i := range benchPieces {
		if r.IntN(2) == 0 {
			bf.Set(i)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := p.PeerBitfield(999, bf); err != nil {
			b.Fatal(err)
		}
		p.PeerGone(999)
	}
}
