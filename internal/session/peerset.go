package session

import (
	"net/netip"
	"time"

	"tt/picker"
)

// Bounds of the peer set. Addresses only another peer vouched for (PEX)
// may fill at most half of the table, so a flood of them cannot crowd out
// what trackers, the DHT and the user gave.
const (
	maxKnown    = 4000
	maxPEXKnown = maxKnown / 2
	maxBanned   = 4096
	maxGone     = 1024
	maxDials    = 8 // dials in flight
	// maxPEXDials is how many of them may go to addresses only PEX named:
	// a peer naming addresses that accept and never answer holds a slot
	// for a whole handshake timeout, and the rest stay free for trusted
	// sources.
	maxPEXDials = maxDials / 2
)

// knownPeer is an address we may dial.
type knownPeer struct {
	source    PeerSource
	noMSE     bool // an MSE handshake failed where plaintext worked
	noUTP     bool // dialled over TCP because uTP did not answer first
	connected bool
	worked    bool // a connection to it completed its handshake once
	dialing   bool
	self      bool // it is us
	failures  int
	nextTry   time.Time
}

// evictable says whether an entry may make room for another.
func (k *knownPeer) evictable() bool { return !k.connected && !k.dialing && !k.worked }

// peerSet is who we know, who we banned and who recently left. The loop
// owns it; every map in it is bounded.
type peerSet struct {
	known    map[netip.AddrPort]*knownPeer
	pex      int // entries whose only source is PEX
	banned   map[netip.Addr]struct{}
	banOrder []netip.Addr
	// gone remembers the address of a peer that left, so that a block it
	// sent can still be held against it; the oldest are forgotten first.
	gone      map[picker.PeerID]netip.AddrPort
	goneOrder []picker.PeerID
	dials     int
}

func newPeerSet() peerSet {
	return peerSet{known: map[netip.AddrPort]*knownPeer{}, banned: map[netip.Addr]struct{}{},
		gone: map[picker.PeerID]netip.AddrPort{}}
}

// ipOf is the address a ban applies to.
func ipOf(a netip.AddrPort) netip.Addr { return a.Addr().Unmap() }

func (ps *peerSet) isBanned(a netip.AddrPort) bool {
	_, ok := ps.banned[ipOf(a)]
	return ok
}

// add records an address; it returns false when the address was refused
// (invalid, banned, or no room). An address already known from PEX that a
// trusted source names again counts as that source's.
func (ps *peerSet) add(a netip.AddrPort, src PeerSource) bool {
	if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().IsMulticast() || ps.isBanned(a) {
		return false
	}
	if k := ps.known[a]; k != nil {
		if k.source == SourcePEX && src.trusted() {
			k.source = src
			ps.pex--
		}
		return true
	}
	switch {
	case src == SourcePEX && ps.pex >= maxPEXKnown:
		if !ps.evict(func(k *knownPeer) bool { return k.source == SourcePEX && k.failures > 0 }) {
			return false
		}
	case len(ps.known) >= maxKnown:
		pexOnly := func(k *knownPeer) bool { return k.source == SourcePEX }
		failing := func(k *knownPeer) bool { return k.failures > 0 && src.trusted() }
		if !ps.evict(pexOnly) && !ps.evict(failing) {
			return false
		}
	}
	ps.known[a] = &knownPeer{source: src}
	if src == SourcePEX {
		ps.pex++
	}
	return true
}

// evict forgets one evictable entry that match accepts.
func (ps *peerSet) evict(match func(*knownPeer) bool) bool {
	for a, k := range ps.known {
		if k.evictable() && match(k) {
			ps.forget(a)
			return true
		}
	}
	return false
}

func (ps *peerSet) forget(a netip.AddrPort) {
	if k := ps.known[a]; k != nil {
		if k.source == SourcePEX {
			ps.pex--
		}
		delete(ps.known, a)
	}
}

// ban refuses the address's IP from now on, whatever port it comes from.
func (ps *peerSet) ban(a netip.AddrPort) {
	ip := ipOf(a)
	if _, ok := ps.banned[ip]; ok {
		return
	}
	if len(ps.banOrder) >= maxBanned {
		delete(ps.banned, ps.banOrder[0])
		ps.banOrder = ps.banOrder[1:]
	}
	ps.banned[ip] = struct{}{}
	ps.banOrder = append(ps.banOrder, ip)
	for k := range ps.known {
		if ipOf(k) == ip {
			ps.forget(k)
		}
	}
}

// left remembers a departed peer's address for a while.
func (ps *peerSet) left(id picker.PeerID, a netip.AddrPort) {
	if len(ps.goneOrder) >= maxGone {
		delete(ps.gone, ps.goneOrder[0])
		ps.goneOrder = ps.goneOrder[1:]
	}
	ps.gone[id] = a
	ps.goneOrder = append(ps.goneOrder, id)
}

// candidates calls dial for addresses worth dialling now, those from
// trusted sources first, until dial returns false; addresses only PEX
// named while fewer than maxPEXDials of them are being dialled.
func (ps *peerSet) candidates(now time.Time, dial func(netip.AddrPort, *knownPeer) bool) {
	pexDials := 0
	for _, k := range ps.known {
		if k.dialing && !k.source.trusted() {
			pexDials++
		}
	}
	for _, trusted := range []bool{true, false} {
		for a, k := range ps.known {
			if k.source.trusted() != trusted || k.connected || k.dialing || k.self || now.Before(k.nextTry) {
				continue
			}
			if !trusted && pexDials >= maxPEXDials {
				return
			}
			if !dial(a, k) {
				return
			}
			if k.dialing && !trusted {
				pexDials++
			}
		}
	}
}
