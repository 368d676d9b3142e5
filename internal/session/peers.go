package session

import (
	"maps"
	"net"
	"net/netip"
	"time"

	"tt/internal/choker"
	"tt/internal/utp"
	"tt/peerwire"
	"tt/picker"
)

// peerState is the loop's view of one connection.
type peerState struct {
	c                           *conn
	source                      PeerSource
	client                      string
	transport                   Carrier
	raw                         net.Conn // the transport connection
	amChoking, amInterested     bool
	peerChoking, peerInterested bool
	fast, extended              bool
	sawHaves                    bool // a have, bitfield, have-all or have-none arrived
	reqq                        int
	requests                    map[picker.Block]time.Time
	uploads                     int
	down, up                    rateMeter
	lastPiece, connectedAt      time.Time
	chokeChanged                time.Time
	snubbed                     bool
	strikes                     int
	reason                      choker.Reason
	enc                         Cipher
	utMetadata                  int64 // the peer's id for ut_metadata; 0: none
	metaSize                    int   // the metadata_size it announced
	utPEX                       int64 // the peer's id for ut_pex; 0: none
	listenPort                  uint16
	pexSent                     map[netip.AddrPort]bool // what this peer has been told of
	pexNext                     time.Time
	depth                       int        // request queue floor, grown like TCP slow start
	early                       *earlyHave // what it said it has before we knew the torrent
	hashQuota                   *hashQuota // BEP 52 hash requests it may still make
}

// pieces is how many pieces the peer has, and whether all.
func (s *Session) peerPieces(p *peerState) (int, bool) {
	if s.pick == nil {
		return 0, false
	}
	return s.pick.PeerPieces(p.c.id)
}

// addPeers records addresses to connect to.
func (s *Session) addPeers(addrs []netip.AddrPort, source PeerSource) {
	for _, a := range addrs {
		s.set.add(a, source)
	}
	s.connectMore()
}

// connectMore dials known peers while there is room.
func (s *Session) connectMore() {
	if (s.done && !s.cfg.Seed) || s.paused {
		return
	}
	s.set.candidates(time.Now(), func(a netip.AddrPort, k *knownPeer) bool {
		if len(s.peers)+s.set.dials >= s.cfg.MaxPeers || s.set.dials >= maxDials {
			return false
		}
		if s.isSelf(a) {
			k.self = true
			return true
		}
		k.dialing = true
		s.set.dials++
		go s.dial(a, k.source, k.noMSE, k.noUTP)
		return true
	})
}

// dial runs beside the loop: it connects, handshakes and reports.
func (s *Session) dial(a netip.AddrPort, source PeerSource, plainOnly, noUTP bool) {
	var tr Carrier
	var raw net.Conn
	d := dialer{utp: s.cfg.UTP, mode: s.cfg.Transport}
	nc, hs, enc, fellBack, err := s.dialPeer(s.ctx, d.sticky(a, noUTP, &tr, &raw), plainOnly)
	if err != nil {
		select {
		case s.dialFailed <- dialFailure{a, err}:
		case <-s.ctx.Done():
		}
		return
	}
	select {
	case s.newConns <- pendingConn{nc: nc, hs: hs, source: source, addr: a, enc: enc, fellBack: fellBack, transport: tr, raw: raw}:
	case <-s.ctx.Done():
		nc.Close()
	}
}

func (s *Session) handleDialFailed(f dialFailure) {
	s.set.dials--
	s.emit(Event{Type: EvDialFailed, Peer: f.addr.String(), Error: f.err.Error()})
	if k := s.set.known[f.addr]; k != nil {
		k.dialing = false
		k.failures++
		k.nextTry = time.Now().Add(redialDelay(k.failures))
	}
	s.connectMore() // the slot is free now, not at the next tick
}

// redialDelay is how long to wait before dialling a peer again after its
// n-th failure in a row: 1 s, 2 s, 4 s, … up to 2 minutes. A peer that has
// just started often refuses the first try (its listener is up before
// the torrent is), so the first retries come quickly.
func redialDelay(n int) time.Duration {
	if n > 8 {
		return 2 * time.Minute
	}
	return min(time.Second<<max(n-1, 0), 2*time.Minute)
}

func (s *Session) isSelf(a netip.AddrPort) bool {
	return s.cfg.Port != 0 && a.Port() == s.cfg.Port && a.Addr().IsLoopback()
}

// admit says why a new connection is refused, or "" to take it.
func (s *Session) admit(n pendingConn, remote netip.AddrPort) string {
	switch {
	case n.hs.PeerID == s.peerID:
		return "self"
	case s.set.isBanned(remote):
		return "banned"
	case n.hs.InfoHash != s.infoHash || len(s.peers) >= s.cfg.MaxPeers+10 || (s.done && !s.cfg.Seed) || s.paused:
		return "unwanted"
	}
	for _, p := range s.peers {
		if p.c.hs.PeerID == n.hs.PeerID {
			return "duplicate"
		}
	}
	return ""
}

func (s *Session) handleNewConn(n pendingConn) {
	k := s.set.known[n.addr]
	if n.addr.IsValid() {
		s.set.dials--
		if k != nil {
			k.dialing = false
			k.noMSE = k.noMSE || n.fellBack
			k.noUTP = k.noUTP || n.transport == OverTCP
		}
	}
	remote, _ := netip.ParseAddrPort(n.nc.RemoteAddr().String())
	if why := s.admit(n, remote); why != "" {
		n.nc.Close()
		if k != nil {
			k.nextTry = time.Now().Add(5 * time.Minute)
			k.self = why == "self"
		}
		return
	}
	s.nextID++
	c := newConn(s.nextID, n.nc, n.hs)
	if n.addr.IsValid() {
		c.addr = n.addr
		if k != nil {
			k.connected, k.worked, k.failures = true, true, 0
		}
	}
	now := time.Now()
	p := &peerState{
		c: c, source: n.source, client: clientFromPeerID(n.hs.PeerID), enc: n.enc, transport: n.transport, raw: n.raw,
		amChoking: true, peerChoking: true,
		fast: n.hs.Supports(peerwire.BitFast), extended: n.hs.Supports(peerwire.BitExtended),
		reqq: 250, depth: initialDepth, requests: map[picker.Block]time.Time{}, connectedAt: now, chokeChanged: now, lastPiece: now,
	}
	s.peers[c.id] = p
	s.everConnected = true
	go s.readLoop(c)
	go s.writeLoop(c)
	first := s.haveMessages(p)
	if p.extended {
		first = append(first, s.extendedHandshake(p))
	}
	c.send(first...)
	s.emit(Event{Type: EvPeerConnected, Peer: c.addr.String(), Source: n.source, Transport: n.transport})
	if s.t == nil && p.extended {
		s.emit(Event{Type: EvMetadataPeer, Peer: c.addr.String(), Source: n.source})
	}
	// A free upload slot goes to the newcomer once it says it is interested.
}

// haveMessages is what a new peer is told of our pieces. Before a magnet
// link's metadata is known we have nothing; Have messages follow later.
func (s *Session) haveMessages(p *peerState) []outItem {
	if s.pick == nil {
		if p.fast {
			return []outItem{{msg: peerwire.Message{Kind: peerwire.HaveNone}}}
		}
		return nil
	}
	have := s.pick.Have()
	switch {
	case p.fast && have.Count() == s.numPieces:
		return []outItem{{msg: peerwire.Message{Kind: peerwire.HaveAll}}}
	case p.fast && have.Count() == 0:
		return []outItem{{msg: peerwire.Message{Kind: peerwire.HaveNone}}}
	case have.Count() > 0:
		return []outItem{{msg: peerwire.Message{Kind: peerwire.Bitfield, Payload: have.Bytes()}}}
	}
	return nil
}

func (s *Session) extendedHandshake(p *peerState) outItem {
	eh := peerwire.ExtendedHandshake{M: map[string]int64{peerwire.MetadataExt: ourMetadataID}, V: s.cfg.ClientName,
		P: int64(s.cfg.Port), Reqq: maxQueuedUploads}
	if s.t != nil {
		eh.MetadataSize = int64(len(s.t.InfoRaw))
	}
	if s.pexAllowed() {
		eh.M[pexExt] = ourPEXID
	}
	if ip := p.c.addr.Addr().Unmap(); ip.IsValid() {
		eh.YourIP = ip.AsSlice() // how we see them (BEP 10 yourip)
	}
	if p.transport == OverUTP {
		eh.UTPPacket = utp.MaxPacketSize
	}
	b, _ := eh.Marshal()
	return outItem{msg: peerwire.Message{Kind: peerwire.Extended, ExtID: 0, Payload: b}}
}

func (s *Session) dropPeer(p *peerState, why string) {
	c := p.c
	if _, ok := s.peers[c.id]; !ok {
		return
	}
	delete(s.peers, c.id)
	s.set.left(c.id, c.addr)
	c.close()
	if s.pick != nil {
		s.pick.PeerGone(c.id)
	}
	if s.meta != nil {
		s.meta.peerGone(c.id)
	}
	if k := s.set.known[c.addr]; k != nil {
		k.connected = false
		k.nextTry = time.Now().Add(30 * time.Second)
	}
	s.emit(Event{Type: EvPeerDisconnected, Peer: c.addr.String(), Reason: why})
	if !p.amChoking {
		s.rechoke(true)
	}
	s.requestAll()
	s.connectMore()
}

// banStrikes is how many strikes close a peer for good. A peer that alone
// sent a failing piece gets one; a block proven bad by smart ban, two.
const banStrikes = 2

// strike counts against a peer, connected or recently gone; at
// banStrikes its IP is banned.
func (s *Session) strike(id picker.PeerID, n, piece int, why string) {
	p := s.peers[id]
	if p == nil {
		if a, ok := s.set.gone[id]; ok {
			s.banAddr(a, piece, why)
		}
		return
	}
	p.strikes += n
	if p.strikes >= banStrikes {
		s.banAddr(p.c.addr, piece, why)
	}
}

// banAddr bans an IP and drops every connection from it.
func (s *Session) banAddr(a netip.AddrPort, piece int, why string) {
	if s.set.isBanned(a) {
		return
	}
	s.set.ban(a)
	bans := maps.Clone(s.set.banned)
	s.bannedIPs.Store(&bans)
	s.emit(Event{Type: EvPeerBanned, Peer: a.String(), Piece: piece, Reason: why})
	for _, p := range s.peers {
		if ipOf(p.c.addr) == ipOf(a) {
			s.dropPeer(p, "banned: "+why)
		}
	}
}

func (s *Session) addrsOf(ids []picker.PeerID) []string {
	var out []string
	for _, id := range ids {
		if p := s.peers[id]; p != nil {
			out = append(out, p.c.addr.String())
		} else if a, ok := s.set.gone[id]; ok {
			out = append(out, a.String())
		}
	}
	return out
}
