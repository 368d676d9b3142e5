package picker

import (
	"math/bits"
	"slices"
)

// maxPicksPerRound bounds how many fresh pieces one selection pass returns;
// Next runs more passes when it needs more.
const maxPicksPerRound = 16

// randomProbes is how many random positions random-first tries per piece
// before falling back to rarest first.
const randomProbes = 16

// Next returns up to n blocks to request from peer, in the order of the
// package documentation, and records them as requested from peer. It
// returns nil when the peer has nothing we need.
func (p *Picker) Next(peer PeerID, n int) []Block { return p.AppendNext(nil, peer, n) }

// AppendNext is Next appending to dst.
func (p *Picker) AppendNext(dst []Block, peer PeerID, n int) []Block {
	ps := p.peers[peer]
	if ps == nil || n <= 0 || p.missing == 0 || ps.count == 0 {
		return dst
	}
	want := n

	// Partial pieces with free blocks, grouped by priority.
	c := p.cand[:0]
	for _, pt := range p.open {
		if p.prio[pt.piece] != Skip && ps.has(pt.piece) {
			c = append(c, pt)
		}
	}
	p.sortPartials(c)

	ci := 0
	for l := MaxPriority; l > Skip && want > 0; l-- {
		for ; ci < len(c) && p.prio[c[ci].piece] == l && want > 0; ci++ {
			dst = p.take(dst, c[ci], peer, ps, &want)
		}
		for want > 0 && len(p.levels[l].order) > 0 {
			picks := p.choose(l, ps, (want+p.blocksPer-1)/p.blocksPer)
			if len(picks) == 0 {
				break
			}
			for _, i := range picks {
				if want == 0 {
					break
				}
				dst = p.take(dst, p.start(int(i)), peer, ps, &want)
			}
		}
	}
	if want > 0 && p.Endgame() {
		dst = p.endgame(dst, peer, ps, &want)
	}
	clear(c)
	p.cand = c[:0]
	return dst
}

// sortPartials orders partial pieces by priority, then most received
// blocks (index in sequential mode), then index.
func (p *Picker) sortPartials(c []*partial) {
	slices.SortFunc(c, func(a, b *partial) int {
		if pa, pb := p.prio[a.piece], p.prio[b.piece]; pa != pb {
			return int(pb) - int(pa)
		}
		if !p.sequential && a.received != b.received {
			return int(b.received - a.received)
		}
		return a.piece - b.piece
	})
}

// take requests free blocks of pt from peer, lowest offset first.
func (p *Picker) take(dst []Block, pt *partial, peer PeerID, ps *peerState, want *int) []Block {
	for b := pt.firstFree; b < pt.n && *want > 0; b++ {
		if !pt.isFree(b) {
			continue
		}
		p.addReq(pt, int(b), peer, ps)
		dst = append(dst, p.block(pt.piece, int(b)))
		*want--
	}
	for pt.firstFree < pt.n && !pt.isFree(pt.firstFree) {
		pt.firstFree++
	}
	return dst
}

// choose returns up to need fresh pieces of level l that the peer has, in
// selection order. The pieces stay fresh until started.
func (p *Picker) choose(l Priority, ps *peerState, need int) []int32 {
	need = max(1, min(need, maxPicksPerRound))
	switch {
	case p.sequential:
		return p.chooseSequential(l, ps, need)
	case p.haveCount < p.randomFirst:
		if picks := p.chooseRandom(l, ps, need); len(picks) > 0 {
			return picks
		}
	}
	return p.chooseRarest(l, ps, need)
}

func (p *Picker) chooseSequential(l Priority, ps *peerState, need int) []int32 {
	picks := p.picks[:0]
	fb := p.levelBits[l].words
	for wi := p.seqCursor[l]; wi < len(fb) && len(picks) < need; wi++ {
		w := fb[wi]
		if w == 0 && wi == p.seqCursor[l] {
			p.seqCursor[l]++
			continue
		}
		if !ps.seed {
			w &= ps.bits.words[wi]
		}
		for w != 0 && len(picks) < need {
			picks = append(picks, int32(wi<<6+bits.TrailingZeros64(w)))
			w &= w - 1
		}
	}
	p.picks = picks
	return picks
}

func (p *Picker) chooseRandom(l Priority, ps *peerState, need int) []int32 {
	picks := p.picks[:0]
	order := p.levels[l].order
	for range randomProbes * need {
		i := order[p.rng.IntN(len(order))]
		if ps.has(int(i)) && !slices.Contains(picks, i) {
			picks = append(picks, i)
			if len(picks) == need {
				break
			}
		}
	}
	p.picks = picks
	return picks
}

// chooseRarest walks the level's order from the front. For a peer with
// few pieces, or when the walk gets long, it instead intersects the fresh
// set with the peer's bitfield word by word and keeps the pieces with the
// smallest order index.
func (p *Picker) chooseRarest(l Priority, ps *peerState, need int) []int32 {
	picks := p.picks[:0]
	order := p.levels[l].order
	if ps.seed {
		picks = append(picks, order[:min(need, len(order))]...)
		p.picks = picks
		return picks
	}
	words := len(p.levelBits[l].words)
	budget := 2*words + 64
	// Expected walk length: need / (fraction of pieces the peer has).
	if need*p.numPieces <= budget*ps.count {
		j := 0
		for ; j < len(order) && j < budget; j++ {
			if ps.bits.Has(int(order[j])) {
				picks = append(picks, order[j])
				if len(picks) == need {
					break
				}
			}
		}
		if len(picks) == need || j == len(order) {
			p.picks = picks
			return picks
		}
		picks = picks[:0]
	}
	// Keep the need pieces with the smallest pos, sorted.
	fb := p.levelBits[l].words
	for wi, w := range fb {
		w &= ps.bits.words[wi]
		for w != 0 {
			i := int32(wi<<6 + bits.TrailingZeros64(w))
			w &= w - 1
			if len(picks) == need && p.pos[i] >= p.pos[picks[need-1]] {
				continue
			}
			if len(picks) < need {
				picks = append(picks, i)
			} else {
				picks[need-1] = i
			}
			for k := len(picks) - 1; k > 0 && p.pos[picks[k]] < p.pos[picks[k-1]]; k-- {
				picks[k], picks[k-1] = picks[k-1], picks[k]
			}
		}
	}
	p.picks = picks
	return picks
}

// endgame requests outstanding blocks again from peer, up to MaxDuplicates
// requests per block, pieces with most blocks received first.
func (p *Picker) endgame(dst []Block, peer PeerID, ps *peerState, want *int) []Block {
	c := p.cand[:0]
	for _, pt := range p.active {
		if p.prio[pt.piece] != Skip && ps.has(pt.piece) && pt.received < pt.n {
			c = append(c, pt)
		}
	}
	p.sortPartials(c)
	for _, pt := range c {
		for b := range int(pt.n) {
			if *want == 0 {
				break
			}
			if pt.recv[b] || int(pt.nreq[b]) >= p.maxDup || slices.Contains(p.owners(pt, b), peer) {
				continue
			}
			p.addReq(pt, b, peer, ps)
			dst = append(dst, p.block(pt.piece, b))
			*want--
		}
	}
	clear(c)
	p.cand = c[:0]
	return dst
}
