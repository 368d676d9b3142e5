package session

import (
	"time"

	"tt/internal/choker"
	"tt/peerwire"
	"tt/picker"
)

// queueTime is how much data, in seconds at its measured rate, each peer
// should have requested and not yet received.
const queueTime = 2.0

// Request queue bounds per peer (also capped by the peer's reqq).
const (
	initialDepth = 16
	maxDepth     = 1000
)

// Request timeouts and snubbing.
const (
	requestTimeout = 30 * time.Second
	snubTimeout    = choker.SnubTimeout
)

func (s *Session) handlePiece(p *peerState, m peerwire.Message) error {
	if s.t == nil {
		s.wasted += int64(len(m.Payload))
		putBlock(m.Payload)
		return nil
	}
	if err := peerwire.CheckBlock(m.Index, m.Begin, len(m.Payload), s.numPieces, s.pieceLen); err != nil {
		putBlock(m.Payload)
		return err
	}
	blk := picker.Block{Piece: int(m.Index), Begin: int(m.Begin), Length: len(m.Payload)}
	_, asked := p.requests[blk]
	delete(p.requests, blk)
	n := len(m.Payload)
	p.down.add(n)
	s.down.add(n)
	s.downloaded.Add(int64(n))
	p.lastPiece = time.Now()
	s.lastData = p.lastPiece
	p.snubbed = false
	// Slow start: every answered request allows one more outstanding, so
	// the queue doubles each round trip until the measured rate takes over.
	if p.depth < maxDepth && int(p.down.rate*queueTime/picker.BlockSize) < p.depth {
		p.depth++
	}
	if !asked {
		s.wasted += int64(n)
		putBlock(m.Payload)
		return nil
	}
	cancels, arrival := s.pick.Received(p.c.id, blk)
	for _, r := range cancels {
		if q := s.peers[r.Peer]; q != nil {
			delete(q.requests, r.Block)
			q.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Cancel, Index: uint32(r.Block.Piece), Begin: uint32(r.Block.Begin), Length: uint32(r.Block.Length)}})
		}
	}
	switch arrival {
	case picker.Stored, picker.PieceReady:
		s.blockFrom[blk] = p.c.id
		j := diskJob{piece: blk.Piece, begin: int64(blk.Begin), data: m.Payload, ready: arrival == picker.PieceReady}
		if j.ready {
			_, j.suspect = s.suspects[blk.Piece]
		}
		s.disk.push(j)
	default:
		s.wasted += int64(n)
		putBlock(m.Payload)
	}
	s.requestMore(p)
	return nil
}

// maxQueuedUploads bounds the blocks one peer may have us queue; it is
// the reqq we advertise (BEP 10), so a well-behaved peer never exceeds it.
// Queued requests are small descriptors: blocks are read as they are sent.
const maxQueuedUploads = 2000

func (s *Session) handleRequest(p *peerState, m peerwire.Message) error {
	reject := func() {
		if p.fast {
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Reject, Index: m.Index, Begin: m.Begin, Length: m.Length}})
		}
	}
	if s.t == nil {
		reject()
		return nil
	}
	if err := peerwire.CheckRequest(m.Index, m.Begin, m.Length, s.numPieces, s.pieceLen, 0); err != nil {
		return err
	}
	if p.amChoking || !s.pick.Has(int(m.Index)) || p.uploads >= maxQueuedUploads {
		reject()
		return nil
	}
	p.uploads++
	p.c.send(outItem{piece: true, msg: peerwire.Message{Kind: peerwire.Piece, Index: m.Index, Begin: m.Begin, Length: m.Length}})
	return nil
}

// updateInterest tells the peer whether we want something it has.
func (s *Session) updateInterest(p *peerState) {
	want := s.pick != nil && !s.pick.Complete() && s.pick.Interesting(p.c.id)
	if want != p.amInterested {
		p.amInterested = want
		kind := peerwire.NotInterested
		if want {
			kind = peerwire.Interested
		}
		p.c.send(outItem{msg: peerwire.Message{Kind: kind}})
	}
	if want {
		s.requestMore(p)
	}
}

func (s *Session) requestMore(p *peerState) {
	if p.peerChoking || !p.amInterested || s.done || s.pick == nil {
		return
	}
	depth := int(p.down.rate * queueTime / picker.BlockSize)
	depth = max(depth, p.depth)
	depth = min(depth, p.reqq, maxDepth)
	n := depth - len(p.requests)
	if n <= 0 {
		return
	}
	if n = min(n, s.diskRoom()); n <= 0 {
		return
	}
	blocks := s.pick.Next(p.c.id, n)
	if len(blocks) == 0 {
		return
	}
	now := time.Now()
	items := make([]outItem, 0, len(blocks))
	for _, b := range blocks { // Next has recorded them as requested
		p.requests[b] = now
		items = append(items, outItem{msg: peerwire.Message{Kind: peerwire.Request, Index: uint32(b.Piece), Begin: uint32(b.Begin), Length: uint32(b.Length)}})
	}
	p.c.send(items...)
}

func (s *Session) requestAll() {
	for _, p := range s.peers {
		s.requestMore(p)
	}
}

func (s *Session) handleTick(elapsed time.Duration) {
	now := time.Now()
	s.down.tick(elapsed)
	s.up.tick(elapsed)
	s.uploaded.Store(s.up.total)
	timedOut := false
	for _, p := range s.peers {
		p.down.tick(elapsed)
		p.up.tick(elapsed)
		for blk, at := range p.requests {
			if now.Sub(at) > requestTimeout {
				delete(p.requests, blk)
				s.pick.Timeout(p.c.id, blk)
				timedOut = true
			}
		}
		if p.amInterested && !p.peerChoking && now.Sub(p.lastPiece) > snubTimeout {
			p.snubbed, p.depth = true, initialDepth
		}
	}
	if timedOut || s.disk.throttled { // requests given up free room too
		s.requestAll()
	}
	if s.meta != nil && s.t == nil {
		s.meta.expire(now)
		s.askMetadata()
	}
	s.sendPEX(now)
	s.connectMore()
	if !s.done && len(s.peers) == 0 && s.set.dials == 0 {
		select {
		case s.wantPeers <- struct{}{}:
		default:
		}
	}
	s.publish()
}

func (s *Session) rechoke(slotOnly bool) {
	cfg := choker.DefaultConfig()
	in := choker.Input{Seeding: s.Complete(), Round: s.round, Optimistic: s.optimistic}
	now := time.Now()
	for _, p := range s.peers {
		_, seed := s.peerPieces(p)
		in.Peers = append(in.Peers, choker.Peer{
			ID: choker.PeerID(p.c.id), Interested: p.peerInterested, Choked: p.amChoking,
			DownloadRate: p.down.rate, UploadRate: p.up.rate, Snubbed: p.snubbed,
			Age: now.Sub(p.connectedAt), Since: now.Sub(p.chokeChanged), Seed: seed,
		})
	}
	var res choker.Result
	if slotOnly {
		res = choker.OnSlotFree(cfg, in, s.rng)
	} else {
		s.round++
		res = choker.Rechoke(cfg, in, s.rng)
	}
	s.optimistic = res.Optimistic
	for _, d := range res.Decisions {
		p := s.peers[picker.PeerID(d.ID)]
		if p == nil {
			continue
		}
		p.reason = d.Reason
		if d.Unchoke == !p.amChoking {
			continue
		}
		p.amChoking = !d.Unchoke
		p.chokeChanged = now
		if !p.amChoking {
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Unchoke}})
			continue
		}
		p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Choke}})
		dropped := p.c.dropUploads(nil)
		p.uploads -= len(dropped)
		if p.fast {
			for _, it := range dropped {
				p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Reject, Index: it.msg.Index, Begin: it.msg.Begin, Length: it.msg.Length}})
			}
		}
	}
}
