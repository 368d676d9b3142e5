package picker

import (
	"math/rand/v2"
	"testing"
)

// swarmModel mirrors what the caller knows, to check the picker against.
type swarmModel struct {
	t        *testing.T
	p        *Picker
	r        *rand.Rand
	peerBits map[PeerID]Bitfield
	out      map[Request]bool // outstanding requests
	received map[Block]bool   // blocks received since their piece last failed
}

func (m *swarmModel) peerHas(id PeerID, piece int) bool {
	b, ok := m.peerBits[id]
	return ok && b.Has(piece)
}

func (m *swarmModel) dropPeer(id PeerID) {
	for r := range m.out {
		if r.Peer == id {
			delete(m.out, r)
		}
	}
}

func (m *swarmModel) dropPiece(piece int) {
	for r := range m.out {
		if r.Block.Piece == piece {
			delete(m.out, r)
		}
	}
}

func (m *swarmModel) next(id PeerID, n int) {
	t, p := m.t, m.p
	got := p.Next(id, n)
	if len(got) > n {
		t.Fatalf("Next(%d, %d) returned %d blocks", id, n, len(got))
	}
	for _, b := range got {
		switch {
		case p.have.Has(b.Piece):
			t.Fatalf("Next returned %v of a piece we have", b)
		case !m.peerHas(id, b.Piece):
			t.Fatalf("Next returned %v, which peer %d lacks", b, id)
		case p.PiecePriority(b.Piece) == Skip:
			t.Fatalf("Next returned %v of a skipped piece", b)
		case m.received[b]:
			t.Fatalf("Next returned received block %v", b)
		case m.out[Request{id, b}]:
			t.Fatalf("Next returned %v already requested from %d", b, id)
		}
		if _, ok := p.locate(b); !ok {
			t.Fatalf("Next returned invalid block %v", b)
		}
		m.out[Request{id, b}] = true
		dups := 0
		for r := range m.out {
			if r.Block == b {
				dups++
			}
		}
		if dups > p.maxDup {
			t.Fatalf("block %v has %d outstanding requests", b, dups)
		}
		if dups > 1 && !p.Endgame() {
			t.Fatalf("duplicate request for %v outside endgame", b)
		}
	}
}

func (m *swarmModel) pickRequest() (Request, bool) {
	for r := range m.out { // map order is random enough here
		return r, true
	}
	return Request{}, false
}

func (m *swarmModel) receive(r Request) {
	t, p := m.t, m.p
	cancels, a := p.Received(r.Peer, r.Block)
	delete(m.out, r)
	for _, c := range cancels {
		if !m.out[c] {
			t.Fatalf("cancel %v for a request not outstanding", c)
		}
		delete(m.out, c)
	}
	switch a {
	case Stored, PieceReady:
		m.received[r.Block] = true
	case Invalid:
		t.Fatalf("valid block %v reported invalid", r.Block)
	}
	if a == PieceReady {
		if m.r.IntN(10) == 0 {
			p.PieceFailed(r.Block.Piece)
			for b := range m.received {
				if b.Piece == r.Block.Piece {
					delete(m.received, b)
				}
			}
		} else {
			p.PieceVerified(r.Block.Piece)
			m.dropPiece(r.Block.Piece)
		}
	}
}

func (m *swarmModel) randomBitfield(density float64) Bitfield {
	b := NewBitfield(m.p.numPieces)
	for i := range m.p.numPieces {
		if m.r.Float64() < density {
			b.Set(i)
		}
	}
	return b
}

func (m *swarmModel) step() {
	t, p, r := m.t, m.p, m.r
	id := PeerID(r.IntN(8))
	switch k := r.IntN(100); {
	case k < 8:
		b := m.randomBitfield(r.Float64())
		if err := p.PeerBitfield(id, b); err != nil {
			t.Fatal(err)
		}
		m.peerBits[id] = b
	case k < 16:
		i := r.IntN(p.numPieces)
		if err := p.PeerHas(id, i); err != nil {
			t.Fatal(err)
		}
		b, ok := m.peerBits[id]
		if !ok {
			b = NewBitfield(p.numPieces)
		}
		b.Set(i)
		m.peerBits[id] = b
	case k < 18:
		p.PeerHasAll(id)
		b := NewBitfield(p.numPieces)
		b.SetAll()
		m.peerBits[id] = b
	case k < 19:
		p.PeerHasNone(id)
		m.peerBits[id] = NewBitfield(p.numPieces)
	case k < 22:
		p.PeerGone(id)
		delete(m.peerBits, id)
		m.dropPeer(id)
	case k < 24:
		p.CancelAll(id)
		m.dropPeer(id)
	case k < 50:
		m.next(id, 1+r.IntN(20))
	case k < 85:
		if req, ok := m.pickRequest(); ok {
			m.receive(req)
		}
	case k < 93:
		if req, ok := m.pickRequest(); ok {
			var found bool
			switch r.IntN(3) {
			case 0:
				found = p.Rejected(req.Peer, req.Block)
			case 1:
				found = p.Cancelled(req.Peer, req.Block)
			default:
				found = p.Timeout(req.Peer, req.Block)
			}
			if !found {
				t.Fatalf("request %v unknown to the picker", req)
			}
			delete(m.out, req)
		}
	case k < 95:
		prios := make([]Priority, p.numPieces)
		for i := range prios {
			if r.IntN(4) > 0 {
				prios[i] = Priority(r.IntN(int(MaxPriority) + 1))
			}
		}
		if err := p.SetPiecePriorities(prios); err != nil {
			t.Fatal(err)
		}
	case k < 96:
		p.SetSequential(!p.Sequential())
	default:
		// An unsolicited or stray block.
		i := r.IntN(p.numPieces)
		b := p.block(i, r.IntN(p.numBlocks(i)))
		if _, a := p.Received(id, b); a == Stored || a == PieceReady {
			m.received[b] = true
			for req := range m.out {
				if req.Block == b {
					delete(m.out, req)
				}
			}
			if a == PieceReady {
				p.PieceVerified(i)
				m.dropPiece(i)
			}
		}
	}
}

func TestRandomSwarmInvariants(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 99))
		pieceLen := int64(BlockSize * (1 + r.IntN(4)))
		if r.IntN(3) == 0 {
			pieceLen += int64(r.IntN(BlockSize)) // not a multiple of the block size
		}
		total := pieceLen*int64(1+r.IntN(150)) - int64(r.IntN(int(pieceLen)))
		p, err := New(Config{
			PieceLength:   pieceLen,
			TotalLength:   total,
			RandomFirst:   r.IntN(6) - 1,
			MaxDuplicates: 1 + r.IntN(3),
			Rand:          rand.New(rand.NewPCG(seed, 1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		m := &swarmModel{t: t, p: p, r: r, peerBits: map[PeerID]Bitfield{}, out: map[Request]bool{}, received: map[Block]bool{}}
		for range 3000 {
			m.step()
			if err := p.check(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			for id := range PeerID(8) {
				n := 0
				for req := range m.out {
					if req.Peer == id {
						n++
					}
				}
				if n != p.Outstanding(id) {
					t.Fatalf("seed %d: peer %d outstanding %d, model %d", seed, id, p.Outstanding(id), n)
				}
			}
		}

		// Drain: a seed arrives and everything wanted gets downloaded.
		all := NewBitfield(p.numPieces)
		all.SetAll()
		p.PeerHasAll(100)
		m.peerBits[100] = all
		for rounds := 0; !p.Complete(); rounds++ {
			if rounds > 100*p.numPieces+1000 {
				t.Fatalf("seed %d: not complete, %d missing", seed, p.Missing())
			}
			m.next(100, 8)
			for req := range m.out {
				m.receive(req)
			}
			if err := p.check(); err != nil {
				t.Fatalf("seed %d drain: %v", seed, err)
			}
		}
		for i := range p.numPieces {
			if p.PiecePriority(i) != Skip && !p.have.Has(i) {
				t.Fatalf("seed %d: complete but piece %d missing", seed, i)
			}
		}
		if p.Endgame() || p.Next(100, 10) != nil {
			t.Fatalf("seed %d: complete but still picking", seed)
		}
	}
}
