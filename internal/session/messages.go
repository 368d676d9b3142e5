package session

import (
	"errors"
	"time"

	"tt/internal/utp"
	"tt/peerwire"
	"tt/picker"
)

func (s *Session) handleConnEvent(ev connEvent) {
	p := s.peers[ev.c.id]
	if p == nil {
		if ev.msg.Kind == peerwire.Piece {
			putBlock(ev.msg.Payload)
		}
		return
	}
	switch {
	case ev.err != nil:
		s.dropPeer(p, ev.err.Error())
	case ev.sent > 0:
		p.up.add(ev.sent)
		s.up.add(ev.sent)
		p.uploads = max(p.uploads-ev.blocks, 0)
	default:
		if err := s.handleMessage(p, ev.msg); err != nil {
			s.dropPeer(p, err.Error())
		}
	}
}

func (s *Session) pieceLen(i int) int64 { return s.t.PieceLen(i) }

var (
	errLateBitfield = errors.New("bitfield, have-all or have-none after other have messages")
	errRejectNoFast = errors.New("reject without the fast extension")
	errHaveAllNone  = errors.New("have-all/have-none without the fast extension")
)

func (s *Session) handleMessage(p *peerState, m peerwire.Message) error {
	switch m.Kind {
	case peerwire.KeepAlive:
	case peerwire.Choke:
		p.peerChoking = true
		if !p.fast {
			for blk := range p.requests {
				s.pick.Cancelled(p.c.id, blk)
			}
			clear(p.requests)
		}
	case peerwire.Unchoke:
		p.peerChoking = false
		s.requestMore(p)
	case peerwire.Interested:
		p.peerInterested = true
		if p.amChoking {
			s.rechoke(true)
		}
	case peerwire.NotInterested:
		p.peerInterested = false
		if !p.amChoking {
			s.rechoke(true)
		}
	case peerwire.Have, peerwire.Bitfield, peerwire.HaveAll, peerwire.HaveNone:
		return s.handleHaves(p, m)
	case peerwire.Request:
		return s.handleRequest(p, m)
	case peerwire.Cancel:
		p.uploads -= len(p.c.dropUploads(&m))
	case peerwire.Piece:
		return s.handlePiece(p, m)
	case peerwire.Reject:
		if !p.fast {
			return errRejectNoFast
		}
		blk := picker.Block{Piece: int(m.Index), Begin: int(m.Begin), Length: int(m.Length)}
		if _, ok := p.requests[blk]; ok {
			delete(p.requests, blk)
			s.pick.Rejected(p.c.id, blk)
		}
	case peerwire.Extended:
		return s.handleExtended(p, m)
	case peerwire.HashRequest, peerwire.Hashes, peerwire.HashReject:
		return s.handleHashMessage(p, m)
	default:
		// suggest, allowed-fast, port and unknown messages are not used yet
	}
	return nil
}

// earlyHave is what a peer said it has before we knew the torrent (a
// magnet link's metadata): applied once the picker exists.
type earlyHave struct {
	bitfield  []byte
	all, none bool
	haves     []uint32
}

// maxEarlyHaves bounds the have messages kept for one peer before the
// metadata is known; more than this many are dropped (the peer's bitfield
// is what counts, and it comes first).
const maxEarlyHaves = 1 << 16

// handleHaves records what a peer has: have, bitfield, have-all, have-none.
func (s *Session) handleHaves(p *peerState, m peerwire.Message) error {
	if m.Kind != peerwire.Have && p.sawHaves {
		return errLateBitfield
	}
	if (m.Kind == peerwire.HaveAll || m.Kind == peerwire.HaveNone) && !p.fast {
		return errHaveAllNone
	}
	p.sawHaves = true
	if s.pick == nil {
		if p.early == nil {
			p.early = &earlyHave{}
		}
		e := p.early
		switch m.Kind {
		case peerwire.Have:
			if len(e.haves) < maxEarlyHaves {
				e.haves = append(e.haves, m.Index)
			}
		case peerwire.Bitfield:
			e.bitfield = m.Payload
		case peerwire.HaveAll:
			e.all = true
		case peerwire.HaveNone:
			e.none = true
		}
		return nil
	}
	if err := s.recordHaves(p, m); err != nil {
		return err
	}
	s.updateInterest(p)
	return nil
}

// recordHaves gives the picker one have-type message.
func (s *Session) recordHaves(p *peerState, m peerwire.Message) error {
	id := p.c.id
	switch m.Kind {
	case peerwire.Have:
		return s.pick.PeerHas(id, int(m.Index))
	case peerwire.Bitfield:
		if err := peerwire.CheckBitfield(m.Payload, s.numPieces); err != nil {
			return err
		}
		bf, err := picker.BitfieldFromBytes(m.Payload, s.numPieces)
		if err != nil {
			return err
		}
		return s.pick.PeerBitfield(id, bf)
	case peerwire.HaveAll:
		s.pick.PeerHasAll(id)
	case peerwire.HaveNone:
		s.pick.PeerHasNone(id)
	}
	return nil
}

// applyEarly hands the picker what a peer said before the torrent was
// known.
func (s *Session) applyEarly(p *peerState) error {
	e := p.early
	p.early = nil
	if e == nil {
		return nil
	}
	switch {
	case e.all:
		s.pick.PeerHasAll(p.c.id)
	case e.bitfield != nil:
		if err := s.recordHaves(p, peerwire.Message{Kind: peerwire.Bitfield, Payload: e.bitfield}); err != nil {
			return err
		}
	}
	for _, i := range e.haves {
		if err := s.pick.PeerHas(p.c.id, int(i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) handleExtended(p *peerState, m peerwire.Message) error {
	switch {
	case m.ExtID == peerwire.ExtendedHandshakeID:
		eh, err := peerwire.ParseExtendedHandshake(m.Payload)
		if err != nil {
			return err
		}
		if eh.Reqq > 0 {
			p.reqq = int(min(eh.Reqq, maxDepth))
		}
		if uc, ok := p.raw.(*utp.Conn); ok && eh.UTPPacket > 0 {
			uc.RaisePacketSize(int(min(eh.UTPPacket, utp.MaxPacketSize)))
		}
		if eh.V != "" {
			p.client = eh.V
		}
		if id := eh.M[peerwire.MetadataExt]; id > 0 && id < 256 {
			p.utMetadata = id
		}
		if eh.MetadataSize > 0 && eh.MetadataSize <= peerwire.MaxMetadataSize {
			p.metaSize = int(eh.MetadataSize)
		}
		if s.t != nil && p.metaSize != 0 && p.metaSize != len(s.t.InfoRaw) {
			// The size follows from the info-hash: a peer that announces
			// another one lies about the torrent, whenever it says so.
			s.banAddr(p.c.addr, -1, "announced a wrong metadata_size")
			return nil
		}
		if eh.P > 0 && eh.P < 65536 {
			p.listenPort = uint16(eh.P)
		}
		if id := eh.M[pexExt]; s.pexAllowed() && id > 0 && id < 256 {
			p.utPEX = id
			p.pexNext = time.Now().Add(pexFirst)
		}
		if s.meta != nil && s.t == nil {
			s.askMetadata()
		}
	case m.ExtID == ourMetadataID:
		return s.handleMetadataMsg(p, m.Payload)
	case m.ExtID == ourPEXID && s.pexAllowed():
		addrs, err := parsePEX(m.Payload)
		if err != nil {
			return err
		}
		s.addPeers(addrs, SourcePEX)
	}
	return nil
}

// ourMetadataID is the extended message id we receive ut_metadata under.
const ourMetadataID = 1

// handleMetadataMsg answers a BEP 9 request with a piece of the info
// dictionary (or a reject when we cannot), and takes the pieces of a
// magnet link's metadata that we asked for.
func (s *Session) handleMetadataMsg(p *peerState, payload []byte) error {
	m, err := peerwire.ParseMetadataMsg(payload)
	if err != nil {
		return err
	}
	switch m.Type {
	case peerwire.MetadataRequest:
		s.serveMetadata(p, m)
	case peerwire.MetadataData, peerwire.MetadataReject:
		if s.meta != nil && s.t == nil {
			return s.metadataReply(p, m)
		}
	}
	return nil
}

func (s *Session) serveMetadata(p *peerState, m peerwire.MetadataMsg) {
	if p.utMetadata == 0 {
		return
	}
	reply := peerwire.MetadataMsg{Type: peerwire.MetadataReject, Piece: m.Piece}
	if s.t != nil {
		info := s.t.InfoRaw
		if off := m.Piece * peerwire.MetadataPieceSize; m.Piece >= 0 && off < len(info) {
			reply = peerwire.MetadataMsg{Type: peerwire.MetadataData, Piece: m.Piece, TotalSize: len(info),
				Data: info[off:min(off+peerwire.MetadataPieceSize, len(info))]}
		}
	}
	p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Extended, ExtID: uint8(p.utMetadata), Payload: peerwire.AppendMetadataMsg(nil, reply)}})
}
