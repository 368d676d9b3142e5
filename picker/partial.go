package picker

import "math/bits"

func popcount(w uint64) int { return bits.OnesCount64(w) }

// partial is the block state of a started piece: one that has at least one
// block requested or received and is not verified yet.
type partial struct {
	piece     int
	n         int32 // blocks
	received  int32 // blocks received
	pending   int32 // blocks not received with at least one request
	firstFree int32 // no block below this index is free
	activeIdx int
	openIdx   int // -1 when not in open

	recv   []bool
	from   []PeerID // who delivered each received block
	nreq   []uint8  // outstanding requests per block
	owners []PeerID // owners[b*maxDup : b*maxDup+nreq[b]]
}

func (pt *partial) free() int32 { return pt.n - pt.received - pt.pending }

func (pt *partial) isFree(b int32) bool { return !pt.recv[b] && pt.nreq[b] == 0 }

func (p *Picker) owners(pt *partial, b int) []PeerID {
	return pt.owners[b*p.maxDup : b*p.maxDup+int(pt.nreq[b])]
}

// start turns piece i into a partial piece.
func (p *Picker) start(i int) *partial {
	p.freshRemove(i)
	n := p.numBlocks(i)
	var pt *partial
	if k := len(p.spare); k > 0 && n == p.blocksPer {
		pt = p.spare[k-1]
		p.spare = p.spare[:k-1]
	} else {
		pt = &partial{
			recv:   make([]bool, n),
			from:   make([]PeerID, n),
			nreq:   make([]uint8, n),
			owners: make([]PeerID, n*p.maxDup),
		}
	}
	pt.piece = i
	pt.n = int32(n)
	pt.received, pt.pending, pt.firstFree = 0, 0, 0
	pt.openIdx = -1
	pt.activeIdx = len(p.active)
	p.active = append(p.active, pt)
	p.parts[i] = pt
	p.updateOpen(pt)
	return pt
}

// dropPartial forgets a partial piece. Its requests must be gone.
func (p *Picker) dropPartial(pt *partial) {
	if pt.openIdx >= 0 {
		p.removeOpen(pt)
	}
	last := p.active[len(p.active)-1]
	p.active[pt.activeIdx] = last
	last.activeIdx = pt.activeIdx
	p.active = p.active[:len(p.active)-1]
	p.parts[pt.piece] = nil
	if int(pt.n) == p.blocksPer {
		clear(pt.recv)
		clear(pt.nreq)
		p.spare = append(p.spare, pt)
	}
}

// maybeRelease turns a partial piece with nothing received and nothing
// requested back into a fresh one.
func (p *Picker) maybeRelease(pt *partial) {
	if pt.received != 0 || pt.pending != 0 {
		return
	}
	i := pt.piece
	p.dropPartial(pt)
	if p.want.Has(i) {
		p.freshInsert(i)
	}
}

func (p *Picker) removeOpen(pt *partial) {
	last := p.open[len(p.open)-1]
	p.open[pt.openIdx] = last
	last.openIdx = pt.openIdx
	p.open = p.open[:len(p.open)-1]
	pt.openIdx = -1
}

func (p *Picker) updateOpen(pt *partial) {
	switch free := pt.free() > 0; {
	case free && pt.openIdx < 0:
		pt.openIdx = len(p.open)
		p.open = append(p.open, pt)
	case !free && pt.openIdx >= 0:
		p.removeOpen(pt)
	}
}

// addReq records a request for block b of pt to peer.
func (p *Picker) addReq(pt *partial, b int, peer PeerID, ps *peerState) {
	if pt.nreq[b] == 0 {
		pt.pending++
	}
	pt.owners[b*p.maxDup+int(pt.nreq[b])] = peer
	pt.nreq[b]++
	ps.outstanding++
	p.updateOpen(pt)
}

// delReq removes peer's request for block b of pt, if any, without
// releasing the piece.
func (p *Picker) delReq(pt *partial, b int, peer PeerID) bool {
	own := p.owners(pt, b)
	for k, o := range own {
		if o != peer {
			continue
		}
		own[k] = own[len(own)-1]
		pt.nreq[b]--
		if pt.nreq[b] == 0 && !pt.recv[b] {
			pt.pending--
			pt.firstFree = min(pt.firstFree, int32(b))
		}
		if ps := p.peers[peer]; ps != nil {
			ps.outstanding--
		}
		p.updateOpen(pt)
		return true
	}
	return false
}

// dropRequests removes every request for pt's blocks.
func (p *Picker) dropRequests(pt *partial) {
	for b := range int(pt.n) {
		for _, o := range p.owners(pt, b) {
			if ps := p.peers[o]; ps != nil {
				ps.outstanding--
			}
		}
		if pt.nreq[b] > 0 && !pt.recv[b] {
			pt.pending--
		}
		pt.nreq[b] = 0
	}
	pt.firstFree = 0
	p.updateOpen(pt)
}

// Requested records a request to peer made outside Next. It returns false,
// recording nothing, when the block is invalid, already had or received,
// already requested from peer, or at MaxDuplicates requests.
func (p *Picker) Requested(peer PeerID, blk Block) bool {
	b, ok := p.locate(blk)
	if !ok || p.have.Has(blk.Piece) {
		return false
	}
	pt := p.parts[blk.Piece]
	if pt == nil {
		pt = p.start(blk.Piece)
	}
	if pt.recv[b] || int(pt.nreq[b]) >= p.maxDup {
		return false
	}
	for _, o := range p.owners(pt, b) {
		if o == peer {
			return false
		}
	}
	p.addReq(pt, b, peer, p.peer(peer))
	return true
}

// release removes one request and puts the block back in the pool.
func (p *Picker) release(peer PeerID, blk Block) bool {
	b, ok := p.locate(blk)
	if !ok {
		return false
	}
	pt := p.parts[blk.Piece]
	if pt == nil || !p.delReq(pt, b, peer) {
		return false
	}
	p.maybeRelease(pt)
	return true
}

// Rejected records that peer rejected the request for blk (BEP 6); the
// block goes back to the pool. It reports whether such a request existed.
func (p *Picker) Rejected(peer PeerID, blk Block) bool { return p.release(peer, blk) }

// Cancelled records that we cancelled the request for blk to peer, or
// never sent it; the block goes back to the pool.
func (p *Picker) Cancelled(peer PeerID, blk Block) bool { return p.release(peer, blk) }

// Timeout records that the request for blk to peer took too long; the
// block goes back to the pool. If the block arrives later anyway, Received
// still accepts it while it is needed.
func (p *Picker) Timeout(peer PeerID, blk Block) bool { return p.release(peer, blk) }

// CancelAll drops every outstanding request to peer (for instance when it
// chokes us without the fast extension) and returns how many there were.
func (p *Picker) CancelAll(peer PeerID) int {
	ps := p.peers[peer]
	if ps == nil || ps.outstanding == 0 {
		return 0
	}
	dropped := 0
	touched := append(p.cand[:0], p.active...)
	for _, pt := range touched {
		for b := range int(pt.n) {
			if ps.outstanding == 0 {
				break
			}
			if p.delReq(pt, b, peer) {
				dropped++
			}
		}
	}
	for _, pt := range touched {
		if p.parts[pt.piece] == pt {
			p.maybeRelease(pt)
		}
	}
	p.cand = touched[:0]
	return dropped
}

// Received records that peer delivered blk. It returns the other peers'
// outstanding requests for the same block, which the caller should cancel
// (endgame), and what to do with the data. A block of a wanted piece is
// accepted even if its request was cancelled or timed out, or never made.
func (p *Picker) Received(peer PeerID, blk Block) ([]Request, Arrival) {
	b, ok := p.locate(blk)
	if !ok {
		return nil, Invalid
	}
	if p.have.Has(blk.Piece) {
		return nil, Unwanted
	}
	pt := p.parts[blk.Piece]
	if pt == nil {
		if !p.want.Has(blk.Piece) {
			return nil, Unwanted
		}
		pt = p.start(blk.Piece) // a late or unsolicited block we can use
	}
	if pt.recv[b] {
		return nil, Unwanted
	}
	var cancels []Request
	for _, o := range p.owners(pt, b) {
		if o != peer {
			cancels = append(cancels, Request{Peer: o, Block: blk})
		}
		if ps := p.peers[o]; ps != nil {
			ps.outstanding--
		}
	}
	if pt.nreq[b] > 0 {
		pt.pending--
		pt.nreq[b] = 0
	}
	pt.recv[b] = true
	pt.from[b] = peer
	pt.received++
	p.updateOpen(pt)
	if pt.received == pt.n {
		return cancels, PieceReady
	}
	return cancels, Stored
}
